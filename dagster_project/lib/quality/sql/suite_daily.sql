-- The rows the daily suite validates: the daily relation on the ranges' days (portable).
-- day_start (the day's first instant, UTC) lets freshness compare timestamps on both engines.
SELECT d.day,
       CAST(d.day AS TIMESTAMP) AT TIME ZONE 'UTC' AS day_start,
       d.organization_id,
       d.model_id,
       d.model,
       d.build_id,
       d.requests,
       d.successful_requests,
       d.failed_requests,
       d.failed_requests * 1.0 / NULLIF(d.requests, 0) AS failed_ratio,
       d.input_tokens,
       d.output_tokens,
       CAST(d.cost_usd * 10000000000 AS BIGINT) AS cost_usd_e10
FROM {relation} AS d
WHERE d.day IN ({days})
