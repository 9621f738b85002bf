-- The hourly relation summed per UTC day (portable: DuckDB and PostgreSQL).
SELECT CAST(h.hour_start AT TIME ZONE 'UTC' AS DATE) AS day,
       h.organization_id,
       h.model_id,
       sum(h.requests) AS requests,
       sum(h.successful_requests) AS successful_requests,
       sum(h.failed_requests) AS failed_requests,
       sum(h.input_tokens) AS input_tokens,
       sum(h.output_tokens) AS output_tokens,
       sum(h.cost_usd) AS cost_usd
FROM {relation} AS h
WHERE {in_ranges:h.hour_start}
GROUP BY 1, 2, 3
