-- What the expectation suites compare the warehouse with: the operational events of the ranges.
SELECT count(*) AS events,
       coalesce(sum(e.input_tokens), 0) AS input_tokens,
       coalesce(sum(e.output_tokens), 0) AS output_tokens,
       coalesce(sum(e.cost_usd), 0) AS cost_usd,
       max(date_trunc('hour', e.occurred_at, 'UTC')) AS latest_hour
FROM app.usage_events AS e
WHERE {in_ranges:e.occurred_at}
