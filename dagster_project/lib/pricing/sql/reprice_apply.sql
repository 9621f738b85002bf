-- Re-cost the planned events that change: price version, category costs, and cost_usd unless
-- it is the provider's figure. Only the events of the model in range are candidates (the plan);
-- the UPDATE fires no rollup trigger (that is INSERT only): the rollups are recomputed next.
UPDATE app.usage_events AS e
SET price_id = r.new_price_id,
    cost_usd = r.new_cost_usd,
    input_cost_usd = r.new_input_cost_usd,
    cache_read_input_cost_usd = r.new_cache_read_input_cost_usd,
    cache_write_5m_input_cost_usd = r.new_cache_write_5m_input_cost_usd,
    cache_write_1h_input_cost_usd = r.new_cache_write_1h_input_cost_usd,
    output_cost_usd = r.new_output_cost_usd,
    reasoning_output_cost_usd = r.new_reasoning_output_cost_usd,
    audio_input_cost_usd = r.new_audio_input_cost_usd,
    audio_output_cost_usd = r.new_audio_output_cost_usd,
    image_input_cost_usd = r.new_image_input_cost_usd,
    image_output_cost_usd = r.new_image_output_cost_usd,
    web_search_cost_usd = r.new_web_search_cost_usd,
    tool_call_cost_usd = r.new_tool_call_cost_usd
FROM reprice_plan AS r
WHERE r.changed
  AND e.model_id = %(model_id)s
  AND e.organization_id = r.organization_id AND e.occurred_at = r.occurred_at
  AND e.event_id = r.event_id
