-- Every price version, newest period first per model and tier; %(model_id)s NULL = all models.
SELECT p.id, m.provider || '/' || m.model_name || '@' || m.version AS model, p.service_tier,
       p.above_input_tokens, p.effective_from, p.effective_to, p.superseded_at, p.corrects,
       p.correction_reason,
       input_usd_per_mtok, cache_read_input_usd_per_mtok, cache_write_5m_input_usd_per_mtok,
       cache_write_1h_input_usd_per_mtok, output_usd_per_mtok, reasoning_output_usd_per_mtok,
       audio_input_usd_per_mtok, audio_output_usd_per_mtok, image_input_usd_per_mtok,
       image_output_usd_per_mtok, web_search_usd_per_kcall, tool_call_usd_per_kcall
FROM app.model_prices AS p
JOIN app.model_registry AS m ON m.id = p.model_id
WHERE %(model_id)s::uuid IS NULL OR p.model_id = %(model_id)s::uuid
ORDER BY m.provider, m.model_name, m.version, p.service_tier, p.above_input_tokens,
         p.effective_from, p.id
