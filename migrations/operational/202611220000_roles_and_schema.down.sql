-- Roles are cluster-global: other databases on this cluster (other environments, concurrent test
-- databases) may use them, and DROP ROLE fails while any database holds a grant to them. So the
-- roles stay; this database's grants to them go, with everything the up file created here.
DROP FUNCTION IF EXISTS app.current_org_id();
DROP SCHEMA IF EXISTS app;  -- RESTRICT: fails if a later migration's objects were left behind

DO $$
BEGIN
    IF (SELECT count(*) FROM pg_roles
        WHERE rolname IN ('platform_app', 'platform_ingest', 'platform_analyst')) = 3 THEN
        EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM platform_app, platform_ingest, platform_analyst',
                       current_database());
    END IF;
END
$$;
