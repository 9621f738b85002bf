-- Issue 10 (docs/pricing.md): the landing zone carries the token categories and price versions the
-- operational migration 202612051300_token_categories_and_price_versions added. The loader copies
-- every column configs/data-classification.yml lets leave (all of these are `internal`), so the
-- landing tables must have them before the first load after that migration.
--
-- landing.usage_events: the 10 new count columns, service_tier, price_id, cost_source and the 12
-- category cost columns, with the operational defaults. Rows already landed get count 0, tier
-- standard, cost_source computed, category costs 0 and price_id NULL (the warehouse cannot know
-- their price version): they are right again once their hour is re-loaded, which every rollup run
-- does for its hours first. Re-roll the history after this migration (docs/runbooks/analytics.md,
-- "A changed mart column"): the marts' columns changed too. price_id stays nullable here for the
-- same reason; operationally it is NOT NULL, and every row a load copies has one.
--
-- PostgreSQL adds everything in one catalog-only ALTER (constant defaults, no rewrite, no scan);
-- DuckDB takes one ALTER command per statement and no constraint in ADD COLUMN, so each column is
-- added and then set NOT NULL.
--
-- landing.model_prices is a dimension, replaced whole by every load: its key becomes the version
-- id (a model now has several rows per period: service tiers, context tiers, corrections), which
-- neither engine can add to rows that lack it, so the table is recreated empty and the next load
-- fills it.
--
-- Not copied, so nothing to change: app.usage_hourly / app.usage_daily (the loader reads only
-- their per-hour totals, into landing.loaded_hours).
--
-- lint:allow-drop landing.model_prices is a dimension the next load replaces whole; its old key no longer fits
-- lint:allow squawk:adding-not-nullable-field, squawk:adding-field-with-default constant defaults: catalog-only on PostgreSQL; the DuckDB statements take no lock anyone waits on

-- migrate:only postgres
ALTER TABLE landing.usage_events
    ADD COLUMN cache_read_input_tokens INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_5m_input_tokens INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_1h_input_tokens INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_output_tokens INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN audio_input_tokens INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN audio_output_tokens INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN image_input_tokens INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN image_output_tokens INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN web_search_calls INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN tool_calls INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN service_tier VARCHAR NOT NULL DEFAULT 'standard',
    ADD COLUMN price_id BIGINT,
    ADD COLUMN cost_source VARCHAR NOT NULL DEFAULT 'computed',
    ADD COLUMN input_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_read_input_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_5m_input_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_1h_input_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN output_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_output_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN audio_input_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN audio_output_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN image_input_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN image_output_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN web_search_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN tool_call_cost_usd DECIMAL(18, 10) NOT NULL DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN cache_read_input_tokens INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN cache_read_input_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN cache_write_5m_input_tokens INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN cache_write_5m_input_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN cache_write_1h_input_tokens INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN cache_write_1h_input_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN reasoning_output_tokens INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN reasoning_output_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN audio_input_tokens INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN audio_input_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN audio_output_tokens INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN audio_output_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN image_input_tokens INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN image_input_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN image_output_tokens INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN image_output_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN web_search_calls INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN web_search_calls SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN tool_calls INTEGER DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN tool_calls SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN service_tier VARCHAR DEFAULT 'standard';

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN service_tier SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN price_id BIGINT;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN cost_source VARCHAR DEFAULT 'computed';

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN cost_source SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN input_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN input_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN cache_read_input_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN cache_read_input_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN cache_write_5m_input_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN cache_write_5m_input_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN cache_write_1h_input_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN cache_write_1h_input_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN output_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN output_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN reasoning_output_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN reasoning_output_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN audio_input_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN audio_input_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN audio_output_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN audio_output_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN image_input_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN image_input_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN image_output_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN image_output_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN web_search_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN web_search_cost_usd SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD COLUMN tool_call_cost_usd DECIMAL(18, 10) DEFAULT 0;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN tool_call_cost_usd SET NOT NULL;

DROP TABLE landing.model_prices;

-- One row per price version (app.model_prices.id); a rate NULL = the category is not offered.
-- Columns in the classification's order, as the loader and tests/integration/test_warehouse_export
-- expect.
CREATE TABLE landing.model_prices (
    model_id UUID NOT NULL,
    effective_from TIMESTAMPTZ NOT NULL,
    effective_to TIMESTAMPTZ,
    input_usd_per_mtok DECIMAL(12, 6) NOT NULL,
    output_usd_per_mtok DECIMAL(12, 6) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    id BIGINT NOT NULL PRIMARY KEY,
    service_tier VARCHAR NOT NULL,
    above_input_tokens INTEGER NOT NULL,
    cache_read_input_usd_per_mtok DECIMAL(12, 6),
    cache_write_5m_input_usd_per_mtok DECIMAL(12, 6),
    cache_write_1h_input_usd_per_mtok DECIMAL(12, 6),
    reasoning_output_usd_per_mtok DECIMAL(12, 6),
    audio_input_usd_per_mtok DECIMAL(12, 6),
    audio_output_usd_per_mtok DECIMAL(12, 6),
    image_input_usd_per_mtok DECIMAL(12, 6),
    image_output_usd_per_mtok DECIMAL(12, 6),
    web_search_usd_per_kcall DECIMAL(12, 6),
    tool_call_usd_per_kcall DECIMAL(12, 6),
    superseded_at TIMESTAMPTZ,
    corrects BIGINT,
    correction_reason VARCHAR
);
