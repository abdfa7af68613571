-- Catalog changes that the data plane caches are announced on the channel
-- silo_catalog_changes, at commit, as JSON:
--   {"kind": "tenant", "tenant_id": ..., "evict": bool}  a tenant row changed;
--     evict is true when serving or connecting changes (status, placement,
--     credentials), so open pools must close
--   {"kind": "member", "tenant_id": ..., "user_id": ...}  a membership changed
--   {"kind": "active", "user_id": ...}                    an active tenant changed
CREATE FUNCTION notify_catalog_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payload json;
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        payload := json_build_object(
            'kind', 'tenant',
            'tenant_id', NEW.id,
            'evict', OLD.status IS DISTINCT FROM NEW.status
                OR OLD.database_server_id IS DISTINCT FROM NEW.database_server_id
                OR OLD.database_name IS DISTINCT FROM NEW.database_name
                OR OLD.role_name IS DISTINCT FROM NEW.role_name
                OR OLD.role_password_encrypted IS DISTINCT FROM NEW.role_password_encrypted);
    ELSIF TG_TABLE_NAME = 'tenant_users' THEN
        payload := json_build_object(
            'kind', 'member',
            'tenant_id', CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END,
            'user_id', CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END);
    ELSE
        payload := json_build_object(
            'kind', 'active',
            'user_id', CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END);
    END IF;

    PERFORM pg_notify('silo_catalog_changes', payload::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER tenants_notify_change
    AFTER UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION notify_catalog_change();

CREATE TRIGGER tenant_users_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON tenant_users
    FOR EACH ROW EXECUTE FUNCTION notify_catalog_change();

CREATE TRIGGER user_settings_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON user_settings
    FOR EACH ROW EXECUTE FUNCTION notify_catalog_change();
