-- Servers that hold tenant databases. The administrator URL is encrypted by
-- silo (AES-256-GCM) before it is stored.
CREATE TABLE database_servers (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 63),
    admin_url_encrypted bytea NOT NULL,
    capacity            integer NOT NULL DEFAULT 1000 CHECK (capacity >= 0),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'draining')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
    id                      uuid PRIMARY KEY,
    name                    text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    slug                    text NOT NULL CHECK (slug = lower(slug) AND char_length(slug) BETWEEN 3 AND 63),
    config                  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    status                  text NOT NULL CHECK (status IN ('provisioning', 'active', 'suspended', 'deleting', 'deleted', 'failed')),
    -- Placement, fixed when the tenant is created.
    database_server_id      uuid NOT NULL REFERENCES database_servers (id),
    database_name           text NOT NULL,
    role_name               text NOT NULL,
    role_password_encrypted bytea NOT NULL,
    schema_version          bigint NOT NULL DEFAULT 0,
    last_error              text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz,
    purge_after             timestamptz
);

-- A slug stays taken until its tenant is purged.
CREATE UNIQUE INDEX tenants_slug_key ON tenants (slug) WHERE status <> 'deleted';
CREATE UNIQUE INDEX tenants_database_name_key ON tenants (database_server_id, database_name);
CREATE INDEX tenants_created_at_id_idx ON tenants (created_at, id);
CREATE INDEX tenants_status_created_at_id_idx ON tenants (status, created_at, id);

CREATE TABLE tenant_users (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    text NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 255),
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);

CREATE INDEX tenant_users_user_id_idx ON tenant_users (user_id);

-- Audit rows keep no foreign key so that they outlive what they describe.
CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    tenant_id   uuid,
    details     jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_tenant_id_id_idx ON audit_events (tenant_id, id);
