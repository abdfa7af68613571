DROP TABLE audit_events;
DROP TABLE tenant_users;
DROP TABLE tenants;
DROP TABLE database_servers;
