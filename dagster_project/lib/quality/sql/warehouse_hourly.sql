-- The hourly relation's rows in the ranges (portable: DuckDB and PostgreSQL).
SELECT h.hour_start,
       h.organization_id,
       h.model_id,
       h.requests,
       h.successful_requests,
       h.failed_requests,
       h.input_tokens,
       h.output_tokens,
       h.cost_usd
FROM {relation} AS h
WHERE {in_ranges:h.hour_start}
