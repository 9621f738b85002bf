-- The rows the daily suite validates: the daily relation on the ranges' days (portable).
-- day_start (the day's first instant, UTC) lets freshness compare timestamps on both engines.
-- Token categories (issue 10, docs/pricing.md): min_category_count / min_category_cost_e10 are
-- the smallest count and cost of any category (all must be >= 0); computed_cost_e10 is the sum of
-- the category costs in 1e-10 USD.
-- computed_cost_gap_e10: computed_cost_usd minus that sum, always 0.
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
       CAST(d.cost_usd * 10000000000 AS BIGINT) AS cost_usd_e10,
       d.provider_cost_requests,
       least(d.input_tokens, d.cache_read_input_tokens, d.cache_write_5m_input_tokens, d.cache_write_1h_input_tokens, d.output_tokens, d.reasoning_output_tokens, d.audio_input_tokens, d.audio_output_tokens, d.image_input_tokens, d.image_output_tokens, d.web_search_calls, d.tool_calls) AS min_category_count,
       CAST(least(d.input_cost_usd, d.cache_read_input_cost_usd, d.cache_write_5m_input_cost_usd, d.cache_write_1h_input_cost_usd, d.output_cost_usd, d.reasoning_output_cost_usd, d.audio_input_cost_usd, d.audio_output_cost_usd, d.image_input_cost_usd, d.image_output_cost_usd, d.web_search_cost_usd, d.tool_call_cost_usd) * 10000000000 AS BIGINT) AS min_category_cost_e10,
       CAST(d.computed_cost_usd * 10000000000 AS BIGINT) AS computed_cost_e10,
       CAST((d.computed_cost_usd - (d.input_cost_usd + d.cache_read_input_cost_usd + d.cache_write_5m_input_cost_usd + d.cache_write_1h_input_cost_usd + d.output_cost_usd + d.reasoning_output_cost_usd + d.audio_input_cost_usd + d.audio_output_cost_usd + d.image_input_cost_usd + d.image_output_cost_usd + d.web_search_cost_usd + d.tool_call_cost_usd)) * 10000000000 AS BIGINT) AS computed_cost_gap_e10
FROM {relation} AS d
WHERE d.day IN ({days})
