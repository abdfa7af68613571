DROP TABLE tickets;
DROP TABLE workflows;
DROP TABLE tenant_identity;
