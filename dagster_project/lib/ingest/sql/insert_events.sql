-- One organization's staged events (a seq range), inserted with that tenant set
-- (app.current_org_id): the row-level security policy's WITH CHECK holds every row to it.
INSERT INTO app.usage_events (
    received_at, occurred_at, organization_id, user_id, api_key_id, model_id, input_tokens,
    output_tokens, latency_ms, event_id, operation, status, error_code, cost_usd, metadata,
    price_id, input_cost_usd, output_cost_usd, cache_read_input_tokens,
    cache_write_5m_input_tokens, cache_write_1h_input_tokens, reasoning_output_tokens,
    audio_input_tokens, audio_output_tokens, image_input_tokens, image_output_tokens,
    web_search_calls, tool_calls, service_tier, cost_source, cache_read_input_cost_usd,
    cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, reasoning_output_cost_usd,
    audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd, image_output_cost_usd,
    web_search_cost_usd, tool_call_cost_usd
)
SELECT
    %(received_at)s, occurred_at, organization_id, user_id, api_key_id, model_id, input_tokens,
    output_tokens, latency_ms, event_id, operation, status, error_code, cost_usd,
    CASE WHEN metadata_line IS NULL THEN metadata ELSE metadata_line::jsonb -> 'metadata' END,
    price_id, input_cost_usd, output_cost_usd, cache_read_input_tokens,
    cache_write_5m_input_tokens, cache_write_1h_input_tokens, reasoning_output_tokens,
    audio_input_tokens, audio_output_tokens, image_input_tokens, image_output_tokens,
    web_search_calls, tool_calls, service_tier, cost_source, cache_read_input_cost_usd,
    cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, reasoning_output_cost_usd,
    audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd, image_output_cost_usd,
    web_search_cost_usd, tool_call_cost_usd
FROM ingest_stage
WHERE seq >= %(start)s AND seq < %(stop)s AND organization_id = %(org)s
