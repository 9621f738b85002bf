-- platform_loader: the role lib/warehouse/ (the warehouse loader) and the reconciliation checks
-- read the operational database as. Read-only, all tenants, never a secret.
--
-- LOGIN, NOSUPERUSER, NOBYPASSRLS, owns nothing, writes nothing: it gets CONNECT, USAGE on the
-- schemas it reads and SELECT only, and every one of its policies is FOR SELECT.
--
-- How it sees every tenant. The tenant tables keep FORCE ROW LEVEL SECURITY and their existing
-- per-tenant policies (which name the service roles, not this one). A role that no policy names
-- sees no rows at all, so each table the loader copies gets one more policy,
-- `FOR SELECT TO platform_loader USING (true)`: this role, and only it, reads every tenant's rows
-- without setting app.current_org_id. Why that is safe:
--   * It is SELECT only (no INSERT/UPDATE/DELETE policy and no write grant: an attempt fails on
--     privileges before any policy is consulted), so it can never change or move a tenant's row.
--   * Policies are permissive and per role: platform_app, platform_ingest and platform_analyst
--     are untouched and still see one tenant per transaction.
--   * Its purpose is exactly the cross-tenant copy into the warehouse, where every row keeps its
--     organization_id and analysts' access is decided there (marts only).
--   * It still can't read a secret: SELECT is granted column by column, leaving out every
--     `secret` column of configs/data-classification.yml (app.api_keys.key_hash). A query that
--     names key_hash (or SELECT *) fails with "permission denied"; a new column is invisible
--     until someone classifies it and grants it here.
--   * NOBYPASSRLS: RLS still applies, so a table without a loader policy shows it nothing.
-- app.model_registry and app.model_prices have no row-level security: column grants only.
-- ingest.touched_event_hours (not tenant-facing, no RLS): SELECT, for the late-event sensor.
--
-- Created with the race-tolerant block of 202611220000_roles_and_schema.up.sql (tests and
-- `migrate smoke` migrate many databases of one cluster at once). A role is cluster-global:
-- the down file drops its grants and policies in this database, never the role.
DO $$
DECLARE
    existing pg_roles%ROWTYPE;
BEGIN
    SELECT * INTO existing FROM pg_roles WHERE rolname = 'platform_loader';
    IF NOT FOUND THEN
        BEGIN
            CREATE ROLE platform_loader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created concurrently by a migration of another database: same role
        END;
    -- Checked, not altered (see 202611220000): a SUPERUSER or BYPASSRLS loader would read
    -- key_hash and ignore every policy below.
    ELSIF existing.rolsuper OR existing.rolbypassrls THEN
        RAISE EXCEPTION 'role platform_loader exists with SUPERUSER or BYPASSRLS; row-level security would not apply to it';
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO platform_loader', current_database());
END
$$;
GRANT USAGE ON SCHEMA app, ingest TO platform_loader;

-- Every column except the secret ones, table by table.
GRANT SELECT (occurred_at, received_at, organization_id, user_id, api_key_id, model_id,
              input_tokens, output_tokens, latency_ms, event_id, operation, status, error_code,
              cost_usd, metadata) ON app.usage_events TO platform_loader;
GRANT SELECT (id, slug, name, status, created_at) ON app.organizations TO platform_loader;
GRANT SELECT (id, email, display_name, created_at) ON app.users TO platform_loader;
GRANT SELECT (organization_id, user_id, role, created_at) ON app.memberships TO platform_loader;
-- Not key_hash (secret).
GRANT SELECT (id, organization_id, name, key_prefix, scopes, created_by, created_at, expires_at,
              revoked_at, last_used_at) ON app.api_keys TO platform_loader;
GRANT SELECT (id, organization_id, model_id, period, token_limit, cost_limit_usd, soft_threshold,
              hard_threshold, created_at) ON app.budgets TO platform_loader;
GRANT SELECT (organization_id, hour, model_id, requests, errors, input_tokens, output_tokens,
              cost_usd) ON app.usage_hourly TO platform_loader;
GRANT SELECT (organization_id, day, model_id, requests, errors, input_tokens, output_tokens,
              cost_usd) ON app.usage_daily TO platform_loader;
GRANT SELECT (id, provider, model_name, version, context_window, status, created_at)
    ON app.model_registry TO platform_loader;
GRANT SELECT (model_id, effective_from, effective_to, input_usd_per_mtok, output_usd_per_mtok,
              created_at) ON app.model_prices TO platform_loader;
GRANT SELECT ON ingest.touched_event_hours TO platform_loader;

CREATE POLICY p_usage_events_loader ON app.usage_events FOR SELECT TO platform_loader USING (true);
CREATE POLICY p_organizations_loader ON app.organizations FOR SELECT TO platform_loader USING (true);
CREATE POLICY p_users_loader ON app.users FOR SELECT TO platform_loader USING (true);
CREATE POLICY p_memberships_loader ON app.memberships FOR SELECT TO platform_loader USING (true);
CREATE POLICY p_api_keys_loader ON app.api_keys FOR SELECT TO platform_loader USING (true);
CREATE POLICY p_budgets_loader ON app.budgets FOR SELECT TO platform_loader USING (true);
CREATE POLICY p_usage_hourly_loader ON app.usage_hourly FOR SELECT TO platform_loader USING (true);
CREATE POLICY p_usage_daily_loader ON app.usage_daily FOR SELECT TO platform_loader USING (true);
