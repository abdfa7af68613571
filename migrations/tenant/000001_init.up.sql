-- The tenant this database belongs to, written once by provisioning and
-- checked by the data plane before it serves the database.
CREATE TABLE tenant_identity (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tenant_id  uuid NOT NULL,
    stamped_at timestamptz NOT NULL DEFAULT now()
);

-- A workflow names the statuses its tickets move through, in order.
CREATE TABLE workflows (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    description text NOT NULL DEFAULT '',
    statuses    text[] NOT NULL DEFAULT '{open,in_progress,done}' CHECK (cardinality(statuses) > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tickets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workflow_id uuid REFERENCES workflows (id) ON DELETE SET NULL,
    title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'open' CHECK (char_length(status) BETWEEN 1 AND 63),
    assignee    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tickets_created_at_id_idx ON tickets (created_at, id);
CREATE INDEX tickets_status_created_at_id_idx ON tickets (status, created_at, id);
