-- migrate:only postgres
ALTER DEFAULT PRIVILEGES IN SCHEMA marts REVOKE SELECT ON TABLES FROM platform_analyst;

-- migrate:only postgres
REVOKE USAGE ON SCHEMA marts FROM platform_analyst;
