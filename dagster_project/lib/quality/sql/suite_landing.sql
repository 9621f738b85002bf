-- The rows the landing suite validates: landing.usage_events in the ranges (portable).
-- cost_usd_e10: the cost in units of the stored scale (1e-10 USD) as an integer, so sums are
-- compared exactly (GX serialises Decimal bounds as floats).
-- Token categories (issue 10, docs/pricing.md): min_category_count / min_category_cost_e10 are
-- the smallest count and cost of any category (all must be >= 0); computed_cost_e10 is the sum of
-- the category costs in 1e-10 USD.
-- computed_cost_gap_e10: cost_usd minus that sum, 0 unless cost_source = 'provider'.
SELECT e.occurred_at,
       e.organization_id,
       e.model_id,
       e.event_id,
       e.status,
       e.input_tokens,
       e.output_tokens,
       CAST(e.cost_usd * 10000000000 AS BIGINT) AS cost_usd_e10,
       e.service_tier,
       e.cost_source,
       least(e.input_tokens, e.cache_read_input_tokens, e.cache_write_5m_input_tokens, e.cache_write_1h_input_tokens, e.output_tokens, e.reasoning_output_tokens, e.audio_input_tokens, e.audio_output_tokens, e.image_input_tokens, e.image_output_tokens, e.web_search_calls, e.tool_calls) AS min_category_count,
       CAST(least(e.input_cost_usd, e.cache_read_input_cost_usd, e.cache_write_5m_input_cost_usd, e.cache_write_1h_input_cost_usd, e.output_cost_usd, e.reasoning_output_cost_usd, e.audio_input_cost_usd, e.audio_output_cost_usd, e.image_input_cost_usd, e.image_output_cost_usd, e.web_search_cost_usd, e.tool_call_cost_usd) * 10000000000 AS BIGINT) AS min_category_cost_e10,
       CAST((e.input_cost_usd + e.cache_read_input_cost_usd + e.cache_write_5m_input_cost_usd + e.cache_write_1h_input_cost_usd + e.output_cost_usd + e.reasoning_output_cost_usd + e.audio_input_cost_usd + e.audio_output_cost_usd + e.image_input_cost_usd + e.image_output_cost_usd + e.web_search_cost_usd + e.tool_call_cost_usd) * 10000000000 AS BIGINT) AS computed_cost_e10,
       CASE WHEN e.cost_source = 'provider' THEN 0 ELSE CAST((e.cost_usd - (e.input_cost_usd + e.cache_read_input_cost_usd + e.cache_write_5m_input_cost_usd + e.cache_write_1h_input_cost_usd + e.output_cost_usd + e.reasoning_output_cost_usd + e.audio_input_cost_usd + e.audio_output_cost_usd + e.image_input_cost_usd + e.image_output_cost_usd + e.web_search_cost_usd + e.tool_call_cost_usd)) * 10000000000 AS BIGINT) END AS computed_cost_gap_e10
FROM {relation} AS e
WHERE {in_ranges:e.occurred_at}
