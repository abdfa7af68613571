-- Per-user settings. active_tenant_id is the tenant the user last switched
-- to; removing the user from that tenant clears it.
CREATE TABLE user_settings (
    user_id          text PRIMARY KEY CHECK (char_length(user_id) BETWEEN 1 AND 255),
    active_tenant_id uuid REFERENCES tenants (id) ON DELETE SET NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
