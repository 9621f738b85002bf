-- The rows the hourly suite validates: the hourly relation in the ranges (portable).
-- failed_ratio is NULL where requests = 0 (a separate expectation requires requests >= 1);
-- cost_usd_e10: see suite_landing.sql.
SELECT h.hour_start,
       h.organization_id,
       h.model_id,
       h.model,
       h.build_id,
       h.requests,
       h.successful_requests,
       h.failed_requests,
       h.failed_requests * 1.0 / NULLIF(h.requests, 0) AS failed_ratio,
       h.input_tokens,
       h.output_tokens,
       CAST(h.cost_usd * 10000000000 AS BIGINT) AS cost_usd_e10
FROM {relation} AS h
WHERE {in_ranges:h.hour_start}
