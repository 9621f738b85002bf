-- Undo analyst access. The platform_analyst role stays: other databases of the cluster (the
-- operational one) may use it. `marts` is dropped only when empty: dbt's relations are dbt's,
-- not the migrations' (as landing's down, this refuses while dbt objects remain: drop them
-- first, e.g. `DROP SCHEMA marts CASCADE` on a warehouse you are retiring).

-- migrate:only postgres
ALTER DEFAULT PRIVILEGES IN SCHEMA marts REVOKE SELECT ON TABLES FROM platform_analyst;

-- migrate:only postgres
REVOKE USAGE ON SCHEMA marts FROM platform_analyst;

-- migrate:only postgres
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM platform_analyst', current_database());
END
$$;

DROP SCHEMA IF EXISTS marts;
