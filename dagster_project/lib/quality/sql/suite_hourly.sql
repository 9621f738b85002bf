-- The rows the hourly suite validates: the hourly relation in the ranges (portable).
-- failed_ratio is NULL where requests = 0 (a separate expectation requires requests >= 1);
-- cost_usd_e10: see suite_landing.sql.
-- Token categories (issue 10, docs/pricing.md): min_category_count / min_category_cost_e10 are
-- the smallest count and cost of any category (all must be >= 0); computed_cost_e10 is the sum of
-- the category costs in 1e-10 USD.
-- computed_cost_gap_e10: computed_cost_usd minus that sum, always 0.
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
       CAST(h.cost_usd * 10000000000 AS BIGINT) AS cost_usd_e10,
       h.provider_cost_requests,
       least(h.input_tokens, h.cache_read_input_tokens, h.cache_write_5m_input_tokens, h.cache_write_1h_input_tokens, h.output_tokens, h.reasoning_output_tokens, h.audio_input_tokens, h.audio_output_tokens, h.image_input_tokens, h.image_output_tokens, h.web_search_calls, h.tool_calls) AS min_category_count,
       CAST(least(h.input_cost_usd, h.cache_read_input_cost_usd, h.cache_write_5m_input_cost_usd, h.cache_write_1h_input_cost_usd, h.output_cost_usd, h.reasoning_output_cost_usd, h.audio_input_cost_usd, h.audio_output_cost_usd, h.image_input_cost_usd, h.image_output_cost_usd, h.web_search_cost_usd, h.tool_call_cost_usd) * 10000000000 AS BIGINT) AS min_category_cost_e10,
       CAST(h.computed_cost_usd * 10000000000 AS BIGINT) AS computed_cost_e10,
       CAST((h.computed_cost_usd - (h.input_cost_usd + h.cache_read_input_cost_usd + h.cache_write_5m_input_cost_usd + h.cache_write_1h_input_cost_usd + h.output_cost_usd + h.reasoning_output_cost_usd + h.audio_input_cost_usd + h.audio_output_cost_usd + h.image_input_cost_usd + h.image_output_cost_usd + h.web_search_cost_usd + h.tool_call_cost_usd)) * 10000000000 AS BIGINT) AS computed_cost_gap_e10
FROM {relation} AS h
WHERE {in_ranges:h.hour_start}
