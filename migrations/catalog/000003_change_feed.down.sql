DROP TRIGGER user_settings_notify_change ON user_settings;
DROP TRIGGER tenant_users_notify_change ON tenant_users;
DROP TRIGGER tenants_notify_change ON tenants;
DROP FUNCTION notify_catalog_change();
