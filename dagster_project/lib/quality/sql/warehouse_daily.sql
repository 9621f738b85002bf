-- The daily relation's rows for the days (portable: DuckDB and PostgreSQL).
SELECT d.day,
       d.organization_id,
       d.model_id,
       d.requests,
       d.successful_requests,
       d.failed_requests,
       d.input_tokens,
       d.output_tokens,
       d.cost_usd
FROM {relation} AS d
WHERE d.day IN ({days})
