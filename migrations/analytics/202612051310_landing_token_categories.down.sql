-- Back to the landing zone before issue 10. The category columns of landing.usage_events are
-- dropped (their values are in the operational database); landing.model_prices gets its old key
-- back, empty: the next load (by the loader of that version) fills it.
--
-- lint:allow-drop undoing this migration's own columns and table

ALTER TABLE landing.usage_events DROP COLUMN tool_call_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN web_search_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN image_output_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN image_input_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN audio_output_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN audio_input_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN reasoning_output_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN output_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN cache_write_1h_input_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN cache_write_5m_input_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN cache_read_input_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN input_cost_usd;

ALTER TABLE landing.usage_events DROP COLUMN cost_source;

ALTER TABLE landing.usage_events DROP COLUMN price_id;

ALTER TABLE landing.usage_events DROP COLUMN service_tier;

ALTER TABLE landing.usage_events DROP COLUMN tool_calls;

ALTER TABLE landing.usage_events DROP COLUMN web_search_calls;

ALTER TABLE landing.usage_events DROP COLUMN image_output_tokens;

ALTER TABLE landing.usage_events DROP COLUMN image_input_tokens;

ALTER TABLE landing.usage_events DROP COLUMN audio_output_tokens;

ALTER TABLE landing.usage_events DROP COLUMN audio_input_tokens;

ALTER TABLE landing.usage_events DROP COLUMN reasoning_output_tokens;

ALTER TABLE landing.usage_events DROP COLUMN cache_write_1h_input_tokens;

ALTER TABLE landing.usage_events DROP COLUMN cache_write_5m_input_tokens;

ALTER TABLE landing.usage_events DROP COLUMN cache_read_input_tokens;

DROP TABLE landing.model_prices;

CREATE TABLE landing.model_prices (
    model_id UUID NOT NULL,
    effective_from TIMESTAMPTZ NOT NULL,
    effective_to TIMESTAMPTZ,
    input_usd_per_mtok DECIMAL(12, 6) NOT NULL,
    output_usd_per_mtok DECIMAL(12, 6) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model_id, effective_from)
);
