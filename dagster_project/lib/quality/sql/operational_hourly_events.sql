-- The hourly grain recomputed from the operational raw events (PostgreSQL, as platform_loader).
-- Buckets exactly as the marts do: the start of the UTC hour, whatever the session time zone.
SELECT date_trunc('hour', e.occurred_at, 'UTC') AS hour_start,
       e.organization_id,
       e.model_id,
       count(*) AS requests,
       count(*) FILTER (WHERE e.status = 'success') AS successful_requests,
       count(*) FILTER (WHERE e.status = 'error') AS failed_requests,
       sum(e.input_tokens) AS input_tokens,
       sum(e.output_tokens) AS output_tokens,
       sum(e.cost_usd) AS cost_usd
FROM app.usage_events AS e
WHERE {in_ranges:e.occurred_at}
GROUP BY 1, 2, 3
