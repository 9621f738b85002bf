-- Latest events for a key, newest first: the "recent requests" view of one API key.
--
-- Runs as: platform_app inside tenant_transaction(conn, organization_id) (RLS applies).
-- Parameters: organization_id uuid (the transaction's tenant), api_key_id uuid;
--   since, before timestamptz: the window [since, before); `before` is also the page cursor
--   (the occurred_at of the last row of the previous page; events sharing that exact
--   microsecond across a page boundary are skipped); limit_rows: page size.
-- Bounds (the caller enforces them): before - since <= 31 days, limit_rows <= 100.
-- Index: idx_usage_events_api_key_occurred_at (api_key_id, occurred_at DESC) WHERE api_key_id IS
--   NOT NULL. The partitions in [since, before) are scanned newest first by an ordered Append
--   (no sort), and the LIMIT stops it at the first partitions that fill the page. That plan
--   needs the planner to know a key implies its tenant: the (dependencies) statistics on
--   (api_key_id, organization_id) of each partition (migration 202611221120).
SELECT e.occurred_at, e.event_id, e.user_id, e.model_id, e.operation, e.status, e.error_code,
       e.input_tokens, e.output_tokens, e.latency_ms, e.cost_usd
FROM app.usage_events AS e
WHERE e.organization_id = %(organization_id)s
  AND e.api_key_id = %(api_key_id)s
  AND e.occurred_at >= %(since)s
  AND e.occurred_at < %(before)s
ORDER BY e.occurred_at DESC
LIMIT %(limit_rows)s
