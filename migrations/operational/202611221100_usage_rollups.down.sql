-- The trigger first, so no insert reaches a half-removed rollup; the rollups' rows go with them.
DROP TRIGGER IF EXISTS trg_usage_events_rollup ON app.usage_events;
DROP FUNCTION IF EXISTS app.usage_events_rollup();
DROP TABLE IF EXISTS app.usage_daily, app.usage_hourly;
