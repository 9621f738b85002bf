-- The role is cluster-global (other databases of the cluster may use it): drop only what this
-- database granted it, never the role.
DROP POLICY IF EXISTS p_usage_daily_loader ON app.usage_daily;
DROP POLICY IF EXISTS p_usage_hourly_loader ON app.usage_hourly;
DROP POLICY IF EXISTS p_budgets_loader ON app.budgets;
DROP POLICY IF EXISTS p_api_keys_loader ON app.api_keys;
DROP POLICY IF EXISTS p_memberships_loader ON app.memberships;
DROP POLICY IF EXISTS p_users_loader ON app.users;
DROP POLICY IF EXISTS p_organizations_loader ON app.organizations;
DROP POLICY IF EXISTS p_usage_events_loader ON app.usage_events;
REVOKE ALL ON ingest.touched_event_hours FROM platform_loader;
REVOKE ALL ON app.usage_events, app.organizations, app.users, app.memberships, app.api_keys,
    app.budgets, app.usage_hourly, app.usage_daily, app.model_registry, app.model_prices
    FROM platform_loader;
REVOKE USAGE ON SCHEMA app, ingest FROM platform_loader;
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM platform_loader', current_database());
END
$$;
