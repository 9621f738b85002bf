-- What a reprice would change: every event of the model in [start, end) with the price version
-- it would get NOW and its recomputed category costs (docs/pricing.md, "Costing rule"). Session-
-- private, dropped at commit or rollback. Parameters: model_id, start, end.
--
-- The price version: of the current (superseded_at IS NULL) versions of the event's model and
-- service tier in effect at occurred_at, the one with the largest above_input_tokens that is 0
-- or below the event's total input (every input category). No version: new_price_id NULL
-- (no_price). A count > 0 whose rate is NULL in that version: unpriced names the category.
-- Category cost: 0 for a zero count, else round(count * rate * 1e-6 (or 1e-3 per call), 10),
-- PostgreSQL's numeric round being half away from zero: exactly ingestion's rule.
CREATE TEMPORARY TABLE reprice_plan ON COMMIT DROP AS
WITH priced AS (
    SELECT e.organization_id, e.occurred_at, e.event_id, e.service_tier, e.price_id,
           e.cost_source, e.cost_usd,
           e.input_cost_usd, e.cache_read_input_cost_usd, e.cache_write_5m_input_cost_usd, e.cache_write_1h_input_cost_usd, e.output_cost_usd, e.reasoning_output_cost_usd, e.audio_input_cost_usd, e.audio_output_cost_usd, e.image_input_cost_usd, e.image_output_cost_usd, e.web_search_cost_usd, e.tool_call_cost_usd,
           p.id AS new_price_id,
           CASE
                        WHEN e.input_tokens > 0 AND p.input_usd_per_mtok IS NULL THEN 'input'
                        WHEN e.cache_read_input_tokens > 0 AND p.cache_read_input_usd_per_mtok IS NULL THEN 'cache_read_input'
                        WHEN e.cache_write_5m_input_tokens > 0 AND p.cache_write_5m_input_usd_per_mtok IS NULL THEN 'cache_write_5m_input'
                        WHEN e.cache_write_1h_input_tokens > 0 AND p.cache_write_1h_input_usd_per_mtok IS NULL THEN 'cache_write_1h_input'
                        WHEN e.output_tokens > 0 AND p.output_usd_per_mtok IS NULL THEN 'output'
                        WHEN e.reasoning_output_tokens > 0 AND p.reasoning_output_usd_per_mtok IS NULL THEN 'reasoning_output'
                        WHEN e.audio_input_tokens > 0 AND p.audio_input_usd_per_mtok IS NULL THEN 'audio_input'
                        WHEN e.audio_output_tokens > 0 AND p.audio_output_usd_per_mtok IS NULL THEN 'audio_output'
                        WHEN e.image_input_tokens > 0 AND p.image_input_usd_per_mtok IS NULL THEN 'image_input'
                        WHEN e.image_output_tokens > 0 AND p.image_output_usd_per_mtok IS NULL THEN 'image_output'
                        WHEN e.web_search_calls > 0 AND p.web_search_usd_per_kcall IS NULL THEN 'web_search'
                        WHEN e.tool_calls > 0 AND p.tool_call_usd_per_kcall IS NULL THEN 'tool_call'
           END AS unpriced,
        CASE WHEN e.input_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.input_tokens AS numeric(38, 0)) * p.input_usd_per_mtok * 0.000001, 10) END AS new_input_cost_usd,
        CASE WHEN e.cache_read_input_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.cache_read_input_tokens AS numeric(38, 0)) * p.cache_read_input_usd_per_mtok * 0.000001, 10) END AS new_cache_read_input_cost_usd,
        CASE WHEN e.cache_write_5m_input_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.cache_write_5m_input_tokens AS numeric(38, 0)) * p.cache_write_5m_input_usd_per_mtok * 0.000001, 10) END AS new_cache_write_5m_input_cost_usd,
        CASE WHEN e.cache_write_1h_input_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.cache_write_1h_input_tokens AS numeric(38, 0)) * p.cache_write_1h_input_usd_per_mtok * 0.000001, 10) END AS new_cache_write_1h_input_cost_usd,
        CASE WHEN e.output_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.output_tokens AS numeric(38, 0)) * p.output_usd_per_mtok * 0.000001, 10) END AS new_output_cost_usd,
        CASE WHEN e.reasoning_output_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.reasoning_output_tokens AS numeric(38, 0)) * p.reasoning_output_usd_per_mtok * 0.000001, 10) END AS new_reasoning_output_cost_usd,
        CASE WHEN e.audio_input_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.audio_input_tokens AS numeric(38, 0)) * p.audio_input_usd_per_mtok * 0.000001, 10) END AS new_audio_input_cost_usd,
        CASE WHEN e.audio_output_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.audio_output_tokens AS numeric(38, 0)) * p.audio_output_usd_per_mtok * 0.000001, 10) END AS new_audio_output_cost_usd,
        CASE WHEN e.image_input_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.image_input_tokens AS numeric(38, 0)) * p.image_input_usd_per_mtok * 0.000001, 10) END AS new_image_input_cost_usd,
        CASE WHEN e.image_output_tokens = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.image_output_tokens AS numeric(38, 0)) * p.image_output_usd_per_mtok * 0.000001, 10) END AS new_image_output_cost_usd,
        CASE WHEN e.web_search_calls = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.web_search_calls AS numeric(38, 0)) * p.web_search_usd_per_kcall * 0.001, 10) END AS new_web_search_cost_usd,
        CASE WHEN e.tool_calls = 0 THEN 0::numeric(18, 10)
             ELSE round(CAST(e.tool_calls AS numeric(38, 0)) * p.tool_call_usd_per_kcall * 0.001, 10) END AS new_tool_call_cost_usd
    FROM app.usage_events AS e
    LEFT JOIN LATERAL (
        SELECT p.*
        FROM app.model_prices AS p
        WHERE p.model_id = e.model_id AND p.service_tier = e.service_tier
          AND p.superseded_at IS NULL
          AND p.effective_from <= e.occurred_at
          AND (p.effective_to IS NULL OR e.occurred_at < p.effective_to)
          AND (p.above_input_tokens = 0 OR (e.input_tokens::bigint + e.cache_read_input_tokens::bigint + e.cache_write_5m_input_tokens::bigint + e.cache_write_1h_input_tokens::bigint + e.audio_input_tokens::bigint + e.image_input_tokens::bigint) > p.above_input_tokens)
        ORDER BY p.above_input_tokens DESC
        LIMIT 1
    ) AS p ON true
    WHERE e.model_id = %(model_id)s AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
), summed AS (
    SELECT priced.*,
          new_input_cost_usd
        + new_cache_read_input_cost_usd
        + new_cache_write_5m_input_cost_usd
        + new_cache_write_1h_input_cost_usd
        + new_output_cost_usd
        + new_reasoning_output_cost_usd
        + new_audio_input_cost_usd
        + new_audio_output_cost_usd
        + new_image_input_cost_usd
        + new_image_output_cost_usd
        + new_web_search_cost_usd
        + new_tool_call_cost_usd
        AS new_computed_cost_usd
    FROM priced
)
SELECT summed.*,
       CASE WHEN cost_source = 'provider' THEN cost_usd ELSE new_computed_cost_usd END AS new_cost_usd,
       (new_price_id IS DISTINCT FROM price_id
                OR new_input_cost_usd <> input_cost_usd
                OR new_cache_read_input_cost_usd <> cache_read_input_cost_usd
                OR new_cache_write_5m_input_cost_usd <> cache_write_5m_input_cost_usd
                OR new_cache_write_1h_input_cost_usd <> cache_write_1h_input_cost_usd
                OR new_output_cost_usd <> output_cost_usd
                OR new_reasoning_output_cost_usd <> reasoning_output_cost_usd
                OR new_audio_input_cost_usd <> audio_input_cost_usd
                OR new_audio_output_cost_usd <> audio_output_cost_usd
                OR new_image_input_cost_usd <> image_input_cost_usd
                OR new_image_output_cost_usd <> image_output_cost_usd
                OR new_web_search_cost_usd <> web_search_cost_usd
                OR new_tool_call_cost_usd <> tool_call_cost_usd
                OR (cost_source = 'computed' AND new_computed_cost_usd <> cost_usd)) AS changed
FROM summed;
