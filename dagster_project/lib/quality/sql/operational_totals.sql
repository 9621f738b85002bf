-- What the expectation suites compare the warehouse with: the operational events of the ranges.
SELECT count(*) AS events,
       coalesce(sum(e.input_tokens), 0) AS input_tokens,
       coalesce(sum(e.output_tokens), 0) AS output_tokens,
       coalesce(sum(e.cost_usd), 0) AS cost_usd,
       coalesce(sum(e.input_cost_usd + e.cache_read_input_cost_usd + e.cache_write_5m_input_cost_usd + e.cache_write_1h_input_cost_usd + e.output_cost_usd + e.reasoning_output_cost_usd + e.audio_input_cost_usd + e.audio_output_cost_usd + e.image_input_cost_usd + e.image_output_cost_usd + e.web_search_cost_usd + e.tool_call_cost_usd), 0) AS computed_cost_usd,
       count(*) FILTER (WHERE e.cost_source = 'provider') AS provider_cost_requests,
       max(date_trunc('hour', e.occurred_at, 'UTC')) AS latest_hour
FROM app.usage_events AS e
WHERE {in_ranges:e.occurred_at}
