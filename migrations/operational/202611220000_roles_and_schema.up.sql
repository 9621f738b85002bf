-- Roles, the `app` schema and the tenant setting every row-level security policy reads.
--
-- Roles (cluster-global; created here, never dropped by a down file):
--   platform_owner    NOLOGIN. Owns every object of the operational schema. Migrations run as a
--                     superuser and hand each object to it (ALTER ... OWNER TO platform_owner),
--                     so no login role owns a table: owners skip GRANTs, and only FORCE RLS
--                     stops them skipping policies.
--   platform_app      the API service: reads and writes its tenant's operational rows.
--   platform_ingest   the usage-ingestion service: writes usage_events, reads what it validates.
--   platform_analyst  analytics readers. For now NO access to tenant tables at all (analytics
--                     live in the warehouse; dbt extracts with its own credentials): only the
--                     global model registry. Granting it tenant tables later would still be
--                     filtered by the same RLS policies, which already name it.
-- The three service roles are LOGIN, not superuser, not BYPASSRLS, and own nothing. No passwords
-- here: environments set them out of band (or use trust/peer/cert auth locally).
--
-- Tests and `migrate smoke` migrate many databases on one cluster at the same time, so creating
-- a role must tolerate another database's migration creating it between our check and our
-- CREATE ROLE (duplicate_object, or unique_violation from pg_authid's index).
DO $$
DECLARE
    wanted record;
    existing pg_roles%ROWTYPE;
BEGIN
    FOR wanted IN
        SELECT * FROM (VALUES ('platform_owner', false), ('platform_app', true),
                              ('platform_ingest', true), ('platform_analyst', true)) AS r (name, login)
    LOOP
        SELECT * INTO existing FROM pg_roles WHERE rolname = wanted.name;
        IF NOT FOUND THEN
            BEGIN
                EXECUTE format(
                    'CREATE ROLE %I %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
                    wanted.name, CASE WHEN wanted.login THEN 'LOGIN' ELSE 'NOLOGIN' END);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created concurrently by a migration of another database: same role
            END;
        -- A role that already exists is checked, not altered: ALTER ROLE races with the same
        -- statement from a concurrent migration ("tuple concurrently updated"), and a role that
        -- someone made superuser or BYPASSRLS would silently void every policy below.
        ELSIF existing.rolsuper OR existing.rolbypassrls THEN
            RAISE EXCEPTION 'role % exists with SUPERUSER or BYPASSRLS; row-level security would not apply to it',
                wanted.name;
        END IF;
    END LOOP;
END
$$;

-- PUBLIC can connect by default; granting it explicitly keeps the grant when a DBA revokes
-- CONNECT from PUBLIC. The database name differs per environment, hence the dynamic statement.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO platform_app, platform_ingest, platform_analyst',
                   current_database());
END
$$;

-- A named schema rather than public: one USAGE grant scopes everything, and nothing created in
-- public by a tool or extension becomes part of the tenant data model by accident.
CREATE SCHEMA app AUTHORIZATION platform_owner;
COMMENT ON SCHEMA app IS 'Operational schema of the platform: tenants, identities, keys, models, audit, usage, budgets.';
GRANT USAGE ON SCHEMA app TO platform_app, platform_ingest, platform_analyst;

-- The tenant of the current transaction, or NULL. Set only with
-- set_config('app.current_org_id', <uuid>, true) (SET LOCAL), see lib/db/tenant.py. NULL makes
-- every `organization_id = app.current_org_id()` false: no tenant set, no rows.
-- A plain SQL STABLE function without SET options, so the planner inlines it into each policy
-- and compares it like a parameter (index scans and partition pruning still apply).
CREATE FUNCTION app.current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid;
ALTER FUNCTION app.current_org_id() OWNER TO platform_owner;
COMMENT ON FUNCTION app.current_org_id() IS 'Tenant of the current transaction (app.current_org_id setting), NULL when none is set.';
REVOKE ALL ON FUNCTION app.current_org_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.current_org_id() TO platform_app, platform_ingest, platform_analyst;
