-- Org usage for a time range: requests, errors, tokens and cost per UTC hour and model.
--
-- Runs as: platform_app inside tenant_transaction(conn, organization_id) (RLS applies).
-- Parameters: organization_id uuid (the transaction's tenant); range_start, range_end
--   timestamptz, [range_start, range_end), hour-aligned.
-- Bounds (the caller enforces them): range_end - range_start <= 24 hours. The cost is linear in
--   the tenant's events in the range (every event row is read); longer ranges and multi-day
--   charts belong to an hourly rollup (docs/query-contract.md), not to raw events.
-- Index: pk_usage_events (organization_id, occurred_at, event_id) on the 1-2 daily partitions
--   the range touches (pruned at plan time from the parameters); no other partition is read.
SELECT date_trunc('hour', e.occurred_at, 'UTC') AS hour,
       e.model_id,
       count(*) AS requests,
       count(*) FILTER (WHERE e.status = 'error') AS errors,
       sum(e.input_tokens) AS input_tokens,
       sum(e.output_tokens) AS output_tokens,
       sum(e.cost_usd) AS cost_usd
FROM app.usage_events AS e
WHERE e.organization_id = %(organization_id)s
  AND e.occurred_at >= %(range_start)s
  AND e.occurred_at < %(range_end)s
GROUP BY 1, 2
ORDER BY 1, 2
