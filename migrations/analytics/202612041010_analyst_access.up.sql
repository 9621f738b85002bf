-- Analysts read the published marts (schema `marts`, built by dbt) and nothing else.
--
-- PostgreSQL: the `platform_analyst` login gets USAGE on `marts` and SELECT on what is created
-- there, by default privileges of the role that runs migrations and dbt (the WAREHOUSE_URL
-- user): dbt recreates views and tables, and each new object gets the grant. No other schema
-- of the warehouse (landing, staging, increment, platform_meta) is granted to it.
-- DuckDB has no roles: analysts open the published snapshot file read-only (docs/analytics.md).
CREATE SCHEMA IF NOT EXISTS marts;

-- The operational migrations create the same role on a shared cluster; a warehouse on its own
-- server gets it here. Same race handling as there (migrations of several databases at once).
-- migrate:only postgres
DO $$
DECLARE
    existing pg_roles%ROWTYPE;
BEGIN
    SELECT * INTO existing FROM pg_roles WHERE rolname = 'platform_analyst';
    IF NOT FOUND THEN
        BEGIN
            CREATE ROLE platform_analyst LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    ELSIF existing.rolsuper OR existing.rolbypassrls THEN
        RAISE EXCEPTION 'role platform_analyst exists with SUPERUSER or BYPASSRLS; it must only read marts';
    END IF;
END
$$;

-- migrate:only postgres
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO platform_analyst', current_database());
END
$$;

-- migrate:only postgres
GRANT USAGE ON SCHEMA marts TO platform_analyst;

-- migrate:only postgres
ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO platform_analyst;
