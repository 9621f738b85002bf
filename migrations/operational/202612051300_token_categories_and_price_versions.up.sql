-- Issue 10: price modern LLM calls (docs/pricing.md). Three things, one transaction:
--
-- 1. app.model_prices becomes a history of price VERSIONS: one row per (model, service tier,
--    context tier, period) with a rate for every billable category (NULL = not offered), an id
--    every event records, and corrections that supersede a version instead of editing it.
--    A context tier (above_input_tokens > 0) prices the WHOLE call when the call's input
--    (every input category) exceeds its threshold; the base row (0) prices the rest.
-- 2. app.usage_events records the categories (non-overlapping counts, lib/pricing/categories.py),
--    the service tier, the price version it was costed with (price_id), where cost_usd comes
--    from (cost_source: computed = the sum of the category costs, provider = the provider's
--    figure) and the cost of each category. The database checks the sum.
-- 3. app.usage_hourly / app.usage_daily (trigger-maintained) sum the new counts and costs.
--
-- Envelope-1.0 events keep their meaning: input_tokens is uncached text input, output_tokens
-- text output without reasoning, every other category 0. Their price version is the base
-- standard row in effect at occurred_at (the row that costed them), and their cost is split
-- as input_cost_usd = round(input_tokens * input rate / 1e6, 10), output_cost_usd = the rest, so
-- no stored cost_usd changes.
--
-- Cost of the backfill: it rewrites every stored event and rollup row (one UPDATE each, under
-- the ACCESS EXCLUSIVE lock the ALTERs take). On a large table pause ingestion for it, as for
-- 202611221100; new columns with constant defaults are catalog-only (PostgreSQL >= 11).
-- lint:allow squawk:adding-not-nullable-field constant defaults: catalog-only, no rewrite
-- lint:allow squawk:constraint-missing-not-valid the backfill UPDATE rewrites and locks every row in this transaction anyway; validating right after adds one scan

-- 1. Price versions.
-- lint:allow squawk:adding-field-with-default app.model_prices is reference data (tens of rows): the identity fill rewrites it in milliseconds
ALTER TABLE app.model_prices
    ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY,
    ADD COLUMN service_tier text NOT NULL DEFAULT 'standard',
    ADD COLUMN above_input_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN cache_read_input_usd_per_mtok numeric(12, 6),
    ADD COLUMN cache_write_5m_input_usd_per_mtok numeric(12, 6),
    ADD COLUMN cache_write_1h_input_usd_per_mtok numeric(12, 6),
    ADD COLUMN reasoning_output_usd_per_mtok numeric(12, 6),
    ADD COLUMN audio_input_usd_per_mtok numeric(12, 6),
    ADD COLUMN audio_output_usd_per_mtok numeric(12, 6),
    ADD COLUMN image_input_usd_per_mtok numeric(12, 6),
    ADD COLUMN image_output_usd_per_mtok numeric(12, 6),
    ADD COLUMN web_search_usd_per_kcall numeric(12, 6),
    ADD COLUMN tool_call_usd_per_kcall numeric(12, 6),
    ADD COLUMN superseded_at timestamptz,
    ADD COLUMN corrects bigint,
    ADD COLUMN correction_reason text;
-- lint:allow-drop the version id replaces (model_id, effective_from) as the key: a model now has
-- one row per service tier and context tier in a period, and corrections share a period
-- lint:allow squawk:adding-serial-primary-key-field app.model_prices is reference data (tens of rows): the index builds in milliseconds
-- lint:allow squawk:adding-foreign-key-constraint a self-reference on reference data (tens of rows); every corrects is NULL here
ALTER TABLE app.model_prices
    DROP CONSTRAINT ex_model_prices_no_overlap,
    DROP CONSTRAINT pk_model_prices,
    ADD CONSTRAINT pk_model_prices PRIMARY KEY (id),
    ADD CONSTRAINT fk_model_prices_corrects FOREIGN KEY (corrects) REFERENCES app.model_prices (id),
    ADD CONSTRAINT ck_model_prices_service_tier CHECK (service_tier IN ('standard', 'batch', 'priority', 'flex')),
    ADD CONSTRAINT ck_model_prices_above_input_tokens CHECK (above_input_tokens >= 0),
    ADD CONSTRAINT ck_model_prices_rates CHECK (
        coalesce(cache_read_input_usd_per_mtok, 0) >= 0
        AND coalesce(cache_write_5m_input_usd_per_mtok, 0) >= 0
        AND coalesce(cache_write_1h_input_usd_per_mtok, 0) >= 0
        AND coalesce(reasoning_output_usd_per_mtok, 0) >= 0
        AND coalesce(audio_input_usd_per_mtok, 0) >= 0
        AND coalesce(audio_output_usd_per_mtok, 0) >= 0
        AND coalesce(image_input_usd_per_mtok, 0) >= 0
        AND coalesce(image_output_usd_per_mtok, 0) >= 0
        AND coalesce(web_search_usd_per_kcall, 0) >= 0
        AND coalesce(tool_call_usd_per_kcall, 0) >= 0),
    ADD CONSTRAINT ck_model_prices_correction CHECK ((corrects IS NULL) = (correction_reason IS NULL)),
    -- At most one CURRENT price per (model, service tier, context tier) at any instant. Its GiST
    -- index also answers "the versions in effect at t".
    ADD CONSTRAINT ex_model_prices_no_overlap EXCLUDE USING gist (
        model_id WITH =, service_tier WITH =, above_input_tokens WITH =,
        tstzrange(effective_from, effective_to) WITH &&) WHERE (superseded_at IS NULL);
-- fk_model_prices_corrects: "what corrected this version" without a scan.
-- lint:allow squawk:require-concurrent-index-creation reference data (tens of rows), and CONCURRENTLY cannot run in a transaction
CREATE INDEX idx_model_prices_corrects ON app.model_prices (corrects);
COMMENT ON TABLE app.model_prices IS 'Price versions: per model, service tier and context tier (above_input_tokens), USD per million tokens (per thousand calls) of each category over [effective_from, effective_to); superseded_at marks a corrected version. docs/pricing.md.';
COMMENT ON COLUMN app.model_prices.id IS 'The price version: app.usage_events.price_id records the version that costed the event.';
COMMENT ON COLUMN app.model_prices.service_tier IS 'standard | batch | priority | flex: an event is priced by a version of its own service tier.';
COMMENT ON COLUMN app.model_prices.above_input_tokens IS 'Context tier: 0 = base; T > 0 prices the whole call when its input (every input category) exceeds T tokens.';
COMMENT ON COLUMN app.model_prices.superseded_at IS 'When a correction replaced this version (app.correct_model_price); NULL = current.';
COMMENT ON COLUMN app.model_prices.corrects IS 'The version this one corrects (same model, tiers and period).';
COMMENT ON COLUMN app.model_prices.correction_reason IS 'Why the corrected version was wrong (required with corrects).';
COMMENT ON COLUMN app.model_prices.cache_read_input_usd_per_mtok IS 'USD per million tokens of cache read input; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.cache_write_5m_input_usd_per_mtok IS 'USD per million tokens of cache write 5m input; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.cache_write_1h_input_usd_per_mtok IS 'USD per million tokens of cache write 1h input; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.reasoning_output_usd_per_mtok IS 'USD per million tokens of reasoning output; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.audio_input_usd_per_mtok IS 'USD per million tokens of audio input; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.audio_output_usd_per_mtok IS 'USD per million tokens of audio output; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.image_input_usd_per_mtok IS 'USD per million tokens of image input; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.image_output_usd_per_mtok IS 'USD per million tokens of image output; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.web_search_usd_per_kcall IS 'USD per thousand calls of web search; NULL = not offered (an event using it is quarantined as unpriced_category).';
COMMENT ON COLUMN app.model_prices.tool_call_usd_per_kcall IS 'USD per thousand calls of tool call; NULL = not offered (an event using it is quarantined as unpriced_category).';

-- The history rule, now with versions: a version that has started is immutable except that an
-- open one may be closed at a time not in the past, and a current one may be marked superseded
-- (superseded_at set once, nothing else changed) by a correction. Versions that have not started
-- may still be edited or deleted.
CREATE OR REPLACE FUNCTION app.model_prices_keep_history() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.effective_from > now() THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'UPDATE' AND (
        NEW IS NOT DISTINCT FROM OLD
        OR (OLD.effective_to IS NULL AND NEW.effective_to >= now()
            AND (to_jsonb(NEW) - 'effective_to') = (to_jsonb(OLD) - 'effective_to'))
        OR (OLD.superseded_at IS NULL AND NEW.superseded_at IS NOT NULL
            AND (to_jsonb(NEW) - 'superseded_at') = (to_jsonb(OLD) - 'superseded_at')))
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'model_prices: version % (model %, from %) has started and is history; close it (effective_to >= now()) and add a new version, or correct it with app.correct_model_price',
        OLD.id, OLD.model_id, OLD.effective_from
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

-- Corrects a price version: marks it superseded and inserts a copy with p_rates (rate column ->
-- decimal, or null) overriding, pointing back at it. Returns the new version's id. Events keep
-- their cost until `platformctl prices reprice` recomputes them: a correction alone changes no
-- stored cost. For the owner and superusers only (the service roles read prices).
CREATE FUNCTION app.correct_model_price(p_price_id bigint, p_rates jsonb, p_reason text)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old app.model_prices;
    fixed jsonb;
    unknown text;
    new_id bigint;
BEGIN
    IF coalesce(btrim(p_reason), '') = '' THEN
        RAISE EXCEPTION 'a price correction needs a reason' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k INTO unknown FROM jsonb_object_keys(coalesce(p_rates, '{}')) AS k
    WHERE k NOT IN (
        'input_usd_per_mtok', 'cache_read_input_usd_per_mtok', 'cache_write_5m_input_usd_per_mtok', 'cache_write_1h_input_usd_per_mtok', 'output_usd_per_mtok', 'reasoning_output_usd_per_mtok', 'audio_input_usd_per_mtok', 'audio_output_usd_per_mtok', 'image_input_usd_per_mtok', 'image_output_usd_per_mtok', 'web_search_usd_per_kcall', 'tool_call_usd_per_kcall')
    LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'not a rate column of app.model_prices: %', unknown USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO old FROM app.model_prices WHERE id = p_price_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no price version %', p_price_id USING ERRCODE = 'no_data_found';
    END IF;
    IF old.superseded_at IS NOT NULL THEN
        RAISE EXCEPTION 'price version % was already corrected; correct its current version', p_price_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    fixed := to_jsonb(old) - 'id' - 'created_at' || coalesce(p_rates, '{}')
        || jsonb_build_object('corrects', old.id, 'correction_reason', p_reason);
    UPDATE app.model_prices SET superseded_at = now() WHERE id = p_price_id;
    INSERT INTO app.model_prices (model_id, effective_from, effective_to, service_tier, above_input_tokens,
        input_usd_per_mtok, cache_read_input_usd_per_mtok, cache_write_5m_input_usd_per_mtok, cache_write_1h_input_usd_per_mtok, output_usd_per_mtok, reasoning_output_usd_per_mtok, audio_input_usd_per_mtok, audio_output_usd_per_mtok, image_input_usd_per_mtok, image_output_usd_per_mtok, web_search_usd_per_kcall, tool_call_usd_per_kcall, corrects, correction_reason)
    SELECT model_id, effective_from, effective_to, service_tier, above_input_tokens,
        input_usd_per_mtok, cache_read_input_usd_per_mtok, cache_write_5m_input_usd_per_mtok, cache_write_1h_input_usd_per_mtok, output_usd_per_mtok, reasoning_output_usd_per_mtok, audio_input_usd_per_mtok, audio_output_usd_per_mtok, image_input_usd_per_mtok, image_output_usd_per_mtok, web_search_usd_per_kcall, tool_call_usd_per_kcall, corrects, correction_reason
    FROM jsonb_populate_record(NULL::app.model_prices, fixed)
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
ALTER FUNCTION app.correct_model_price(bigint, jsonb, text) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.correct_model_price(bigint, jsonb, text) FROM PUBLIC;

-- 2. Events.
ALTER TABLE app.usage_events
    ADD COLUMN cache_read_input_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_5m_input_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_1h_input_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_output_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN audio_input_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN audio_output_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN image_input_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN image_output_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN web_search_calls integer NOT NULL DEFAULT 0,
    ADD COLUMN tool_calls integer NOT NULL DEFAULT 0,
    ADD COLUMN service_tier text NOT NULL DEFAULT 'standard',
    ADD COLUMN price_id bigint,
    ADD COLUMN cost_source text NOT NULL DEFAULT 'computed',
    ADD COLUMN input_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_read_input_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_5m_input_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_1h_input_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN output_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_output_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN audio_input_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN audio_output_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN image_input_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN image_output_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN web_search_cost_usd numeric(18, 10) NOT NULL DEFAULT 0,
    ADD COLUMN tool_call_cost_usd numeric(18, 10) NOT NULL DEFAULT 0;

-- Envelope-1.0 events: the base standard version in effect at occurred_at costed them (ingestion
-- required one). As the migration's superuser: row-level security does not apply.
UPDATE app.usage_events AS e
SET price_id = p.id,
    -- least(): the split never goes negative, even for an event costed by a version a rollback
    -- of this migration dropped (the sum stays cost_usd exactly)
    input_cost_usd = least(round(e.input_tokens::numeric * p.input_usd_per_mtok * 0.000001, 10), e.cost_usd),
    output_cost_usd = e.cost_usd - least(round(e.input_tokens::numeric * p.input_usd_per_mtok * 0.000001, 10), e.cost_usd)
FROM app.model_prices AS p
WHERE e.price_id IS NULL
  AND p.model_id = e.model_id AND p.service_tier = 'standard' AND p.above_input_tokens = 0
  AND p.superseded_at IS NULL
  AND p.effective_from <= e.occurred_at AND (p.effective_to IS NULL OR e.occurred_at < p.effective_to);

ALTER TABLE app.usage_events
    ALTER COLUMN price_id SET NOT NULL,
    ADD CONSTRAINT ck_usage_events_service_tier CHECK (service_tier IN ('standard', 'batch', 'priority', 'flex')),
    ADD CONSTRAINT ck_usage_events_cost_source CHECK (cost_source IN ('computed', 'provider')),
    -- One check for all the counts and costs: each CHECK costs a per-row evaluation on ingestion.
    ADD CONSTRAINT ck_usage_events_categories CHECK (
        least(cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens, audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls, tool_calls) >= 0
        AND least(input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd, image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd) >= 0
        AND (cost_source = 'provider' OR cost_usd = input_cost_usd + cache_read_input_cost_usd + cache_write_5m_input_cost_usd + cache_write_1h_input_cost_usd + output_cost_usd + reasoning_output_cost_usd + audio_input_cost_usd + audio_output_cost_usd + image_input_cost_usd + image_output_cost_usd + web_search_cost_usd + tool_call_cost_usd));
COMMENT ON COLUMN app.usage_events.input_tokens IS 'Uncached text input tokens (envelope 1.0: all input).';
COMMENT ON COLUMN app.usage_events.output_tokens IS 'Text output tokens, without reasoning tokens (envelope 1.0: all output).';
COMMENT ON COLUMN app.usage_events.input_cost_usd IS 'Cost of the input category under price_id: round(input_tokens * input_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.cache_read_input_tokens IS 'Cache read input tokens (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.cache_read_input_cost_usd IS 'Cost of the cache read input category under price_id: round(cache_read_input_tokens * cache_read_input_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.cache_write_5m_input_tokens IS 'Cache write 5m input tokens (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.cache_write_5m_input_cost_usd IS 'Cost of the cache write 5m input category under price_id: round(cache_write_5m_input_tokens * cache_write_5m_input_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.cache_write_1h_input_tokens IS 'Cache write 1h input tokens (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.cache_write_1h_input_cost_usd IS 'Cost of the cache write 1h input category under price_id: round(cache_write_1h_input_tokens * cache_write_1h_input_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.output_cost_usd IS 'Cost of the output category under price_id: round(output_tokens * output_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.reasoning_output_tokens IS 'Reasoning output tokens (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.reasoning_output_cost_usd IS 'Cost of the reasoning output category under price_id: round(reasoning_output_tokens * reasoning_output_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.audio_input_tokens IS 'Audio input tokens (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.audio_input_cost_usd IS 'Cost of the audio input category under price_id: round(audio_input_tokens * audio_input_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.audio_output_tokens IS 'Audio output tokens (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.audio_output_cost_usd IS 'Cost of the audio output category under price_id: round(audio_output_tokens * audio_output_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.image_input_tokens IS 'Image input tokens (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.image_input_cost_usd IS 'Cost of the image input category under price_id: round(image_input_tokens * image_input_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.image_output_tokens IS 'Image output tokens (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.image_output_cost_usd IS 'Cost of the image output category under price_id: round(image_output_tokens * image_output_usd_per_mtok / 1,000,000, 10).';
COMMENT ON COLUMN app.usage_events.web_search_calls IS 'Web search calls (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.web_search_cost_usd IS 'Cost of the web search category under price_id: round(web_search_calls * web_search_usd_per_kcall / 1,000, 10).';
COMMENT ON COLUMN app.usage_events.tool_calls IS 'Tool call calls (envelope 1.1; 0 when not reported).';
COMMENT ON COLUMN app.usage_events.tool_call_cost_usd IS 'Cost of the tool call category under price_id: round(tool_calls * tool_call_usd_per_kcall / 1,000, 10).';
COMMENT ON COLUMN app.usage_events.service_tier IS 'standard | batch | priority | flex (envelope 1.1; standard when absent).';
COMMENT ON COLUMN app.usage_events.price_id IS 'The app.model_prices version that costed the event (its model, service tier and context tier at occurred_at).';
COMMENT ON COLUMN app.usage_events.cost_source IS 'computed: cost_usd = the sum of the category costs; provider: cost_usd is the provider_cost_usd the gateway reported.';
COMMENT ON COLUMN app.usage_events.cost_usd IS 'The event''s cost in USD: the sum of its category costs, or the provider''s figure (cost_source).';

-- 3. Rollups.
ALTER TABLE app.usage_hourly
    ADD COLUMN cache_read_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_5m_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_1h_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_output_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN audio_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN audio_output_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN image_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN image_output_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN web_search_calls bigint NOT NULL DEFAULT 0,
    ADD COLUMN tool_calls bigint NOT NULL DEFAULT 0,
    ADD COLUMN input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_read_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_5m_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_1h_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN output_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_output_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN audio_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN audio_output_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN image_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN image_output_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN web_search_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN tool_call_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN provider_cost_requests bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN app.usage_hourly.cache_read_input_tokens IS 'Sum of the events'' cache_read_input_tokens.';
COMMENT ON COLUMN app.usage_hourly.cache_write_5m_input_tokens IS 'Sum of the events'' cache_write_5m_input_tokens.';
COMMENT ON COLUMN app.usage_hourly.cache_write_1h_input_tokens IS 'Sum of the events'' cache_write_1h_input_tokens.';
COMMENT ON COLUMN app.usage_hourly.reasoning_output_tokens IS 'Sum of the events'' reasoning_output_tokens.';
COMMENT ON COLUMN app.usage_hourly.audio_input_tokens IS 'Sum of the events'' audio_input_tokens.';
COMMENT ON COLUMN app.usage_hourly.audio_output_tokens IS 'Sum of the events'' audio_output_tokens.';
COMMENT ON COLUMN app.usage_hourly.image_input_tokens IS 'Sum of the events'' image_input_tokens.';
COMMENT ON COLUMN app.usage_hourly.image_output_tokens IS 'Sum of the events'' image_output_tokens.';
COMMENT ON COLUMN app.usage_hourly.web_search_calls IS 'Sum of the events'' web_search_calls.';
COMMENT ON COLUMN app.usage_hourly.tool_calls IS 'Sum of the events'' tool_calls.';
COMMENT ON COLUMN app.usage_hourly.input_cost_usd IS 'Sum of the events'' input_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.cache_read_input_cost_usd IS 'Sum of the events'' cache_read_input_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.cache_write_5m_input_cost_usd IS 'Sum of the events'' cache_write_5m_input_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.cache_write_1h_input_cost_usd IS 'Sum of the events'' cache_write_1h_input_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.output_cost_usd IS 'Sum of the events'' output_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.reasoning_output_cost_usd IS 'Sum of the events'' reasoning_output_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.audio_input_cost_usd IS 'Sum of the events'' audio_input_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.audio_output_cost_usd IS 'Sum of the events'' audio_output_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.image_input_cost_usd IS 'Sum of the events'' image_input_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.image_output_cost_usd IS 'Sum of the events'' image_output_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.web_search_cost_usd IS 'Sum of the events'' web_search_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.tool_call_cost_usd IS 'Sum of the events'' tool_call_cost_usd.';
COMMENT ON COLUMN app.usage_hourly.provider_cost_requests IS 'Events whose cost_usd is the provider''s figure (cost_source = provider).';
ALTER TABLE app.usage_daily
    ADD COLUMN cache_read_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_5m_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_1h_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_output_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN audio_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN audio_output_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN image_input_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN image_output_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN web_search_calls bigint NOT NULL DEFAULT 0,
    ADD COLUMN tool_calls bigint NOT NULL DEFAULT 0,
    ADD COLUMN input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_read_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_5m_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_1h_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN output_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_output_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN audio_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN audio_output_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN image_input_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN image_output_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN web_search_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN tool_call_cost_usd numeric(38, 10) NOT NULL DEFAULT 0,
    ADD COLUMN provider_cost_requests bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN app.usage_daily.cache_read_input_tokens IS 'Sum of the events'' cache_read_input_tokens.';
COMMENT ON COLUMN app.usage_daily.cache_write_5m_input_tokens IS 'Sum of the events'' cache_write_5m_input_tokens.';
COMMENT ON COLUMN app.usage_daily.cache_write_1h_input_tokens IS 'Sum of the events'' cache_write_1h_input_tokens.';
COMMENT ON COLUMN app.usage_daily.reasoning_output_tokens IS 'Sum of the events'' reasoning_output_tokens.';
COMMENT ON COLUMN app.usage_daily.audio_input_tokens IS 'Sum of the events'' audio_input_tokens.';
COMMENT ON COLUMN app.usage_daily.audio_output_tokens IS 'Sum of the events'' audio_output_tokens.';
COMMENT ON COLUMN app.usage_daily.image_input_tokens IS 'Sum of the events'' image_input_tokens.';
COMMENT ON COLUMN app.usage_daily.image_output_tokens IS 'Sum of the events'' image_output_tokens.';
COMMENT ON COLUMN app.usage_daily.web_search_calls IS 'Sum of the events'' web_search_calls.';
COMMENT ON COLUMN app.usage_daily.tool_calls IS 'Sum of the events'' tool_calls.';
COMMENT ON COLUMN app.usage_daily.input_cost_usd IS 'Sum of the events'' input_cost_usd.';
COMMENT ON COLUMN app.usage_daily.cache_read_input_cost_usd IS 'Sum of the events'' cache_read_input_cost_usd.';
COMMENT ON COLUMN app.usage_daily.cache_write_5m_input_cost_usd IS 'Sum of the events'' cache_write_5m_input_cost_usd.';
COMMENT ON COLUMN app.usage_daily.cache_write_1h_input_cost_usd IS 'Sum of the events'' cache_write_1h_input_cost_usd.';
COMMENT ON COLUMN app.usage_daily.output_cost_usd IS 'Sum of the events'' output_cost_usd.';
COMMENT ON COLUMN app.usage_daily.reasoning_output_cost_usd IS 'Sum of the events'' reasoning_output_cost_usd.';
COMMENT ON COLUMN app.usage_daily.audio_input_cost_usd IS 'Sum of the events'' audio_input_cost_usd.';
COMMENT ON COLUMN app.usage_daily.audio_output_cost_usd IS 'Sum of the events'' audio_output_cost_usd.';
COMMENT ON COLUMN app.usage_daily.image_input_cost_usd IS 'Sum of the events'' image_input_cost_usd.';
COMMENT ON COLUMN app.usage_daily.image_output_cost_usd IS 'Sum of the events'' image_output_cost_usd.';
COMMENT ON COLUMN app.usage_daily.web_search_cost_usd IS 'Sum of the events'' web_search_cost_usd.';
COMMENT ON COLUMN app.usage_daily.tool_call_cost_usd IS 'Sum of the events'' tool_call_cost_usd.';
COMMENT ON COLUMN app.usage_daily.provider_cost_requests IS 'Events whose cost_usd is the provider''s figure (cost_source = provider).';

-- The backfill: the rollups' rows from the events still stored (the category columns of older
-- rollup rows, whose events retention already dropped, stay 0 for input/output costs: their
-- cost_usd is kept; the split of spend they no longer have events for is unknown).
SET LOCAL work_mem = '256MB';  -- until COMMIT: one hash aggregate, as in 202611221100
UPDATE app.usage_hourly AS u SET
    cache_read_input_tokens = s.cache_read_input_tokens,
    cache_write_5m_input_tokens = s.cache_write_5m_input_tokens,
    cache_write_1h_input_tokens = s.cache_write_1h_input_tokens,
    reasoning_output_tokens = s.reasoning_output_tokens,
    audio_input_tokens = s.audio_input_tokens, audio_output_tokens = s.audio_output_tokens,
    image_input_tokens = s.image_input_tokens, image_output_tokens = s.image_output_tokens,
    web_search_calls = s.web_search_calls, tool_calls = s.tool_calls,
    input_cost_usd = s.input_cost_usd, cache_read_input_cost_usd = s.cache_read_input_cost_usd,
    cache_write_5m_input_cost_usd = s.cache_write_5m_input_cost_usd,
    cache_write_1h_input_cost_usd = s.cache_write_1h_input_cost_usd,
    output_cost_usd = s.output_cost_usd,
    reasoning_output_cost_usd = s.reasoning_output_cost_usd,
    audio_input_cost_usd = s.audio_input_cost_usd,
    audio_output_cost_usd = s.audio_output_cost_usd,
    image_input_cost_usd = s.image_input_cost_usd,
    image_output_cost_usd = s.image_output_cost_usd,
    web_search_cost_usd = s.web_search_cost_usd, tool_call_cost_usd = s.tool_call_cost_usd,
    provider_cost_requests = s.provider_cost_requests
FROM (SELECT e.organization_id, date_bin('1 hour', e.occurred_at, '2000-01-01 00:00:00+00') AS hour, e.model_id,
             sum(e.cache_read_input_tokens) AS cache_read_input_tokens,
             sum(e.cache_write_5m_input_tokens) AS cache_write_5m_input_tokens,
             sum(e.cache_write_1h_input_tokens) AS cache_write_1h_input_tokens,
             sum(e.reasoning_output_tokens) AS reasoning_output_tokens,
             sum(e.audio_input_tokens) AS audio_input_tokens,
             sum(e.audio_output_tokens) AS audio_output_tokens,
             sum(e.image_input_tokens) AS image_input_tokens,
             sum(e.image_output_tokens) AS image_output_tokens,
             sum(e.web_search_calls) AS web_search_calls, sum(e.tool_calls) AS tool_calls,
             sum(e.input_cost_usd) AS input_cost_usd,
             sum(e.cache_read_input_cost_usd) AS cache_read_input_cost_usd,
             sum(e.cache_write_5m_input_cost_usd) AS cache_write_5m_input_cost_usd,
             sum(e.cache_write_1h_input_cost_usd) AS cache_write_1h_input_cost_usd,
             sum(e.output_cost_usd) AS output_cost_usd,
             sum(e.reasoning_output_cost_usd) AS reasoning_output_cost_usd,
             sum(e.audio_input_cost_usd) AS audio_input_cost_usd,
             sum(e.audio_output_cost_usd) AS audio_output_cost_usd,
             sum(e.image_input_cost_usd) AS image_input_cost_usd,
             sum(e.image_output_cost_usd) AS image_output_cost_usd,
             sum(e.web_search_cost_usd) AS web_search_cost_usd,
             sum(e.tool_call_cost_usd) AS tool_call_cost_usd,
             count(*) FILTER (WHERE e.cost_source = 'provider') AS provider_cost_requests
      FROM app.usage_events AS e GROUP BY 1, 2, 3) AS s
WHERE u.organization_id = s.organization_id AND u.hour = s.hour AND u.model_id = s.model_id;
UPDATE app.usage_daily AS u SET
    cache_read_input_tokens = s.cache_read_input_tokens,
    cache_write_5m_input_tokens = s.cache_write_5m_input_tokens,
    cache_write_1h_input_tokens = s.cache_write_1h_input_tokens,
    reasoning_output_tokens = s.reasoning_output_tokens,
    audio_input_tokens = s.audio_input_tokens, audio_output_tokens = s.audio_output_tokens,
    image_input_tokens = s.image_input_tokens, image_output_tokens = s.image_output_tokens,
    web_search_calls = s.web_search_calls, tool_calls = s.tool_calls,
    input_cost_usd = s.input_cost_usd, cache_read_input_cost_usd = s.cache_read_input_cost_usd,
    cache_write_5m_input_cost_usd = s.cache_write_5m_input_cost_usd,
    cache_write_1h_input_cost_usd = s.cache_write_1h_input_cost_usd,
    output_cost_usd = s.output_cost_usd,
    reasoning_output_cost_usd = s.reasoning_output_cost_usd,
    audio_input_cost_usd = s.audio_input_cost_usd,
    audio_output_cost_usd = s.audio_output_cost_usd,
    image_input_cost_usd = s.image_input_cost_usd,
    image_output_cost_usd = s.image_output_cost_usd,
    web_search_cost_usd = s.web_search_cost_usd, tool_call_cost_usd = s.tool_call_cost_usd,
    provider_cost_requests = s.provider_cost_requests
FROM (SELECT e.organization_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day, e.model_id,
             sum(e.cache_read_input_tokens) AS cache_read_input_tokens,
             sum(e.cache_write_5m_input_tokens) AS cache_write_5m_input_tokens,
             sum(e.cache_write_1h_input_tokens) AS cache_write_1h_input_tokens,
             sum(e.reasoning_output_tokens) AS reasoning_output_tokens,
             sum(e.audio_input_tokens) AS audio_input_tokens,
             sum(e.audio_output_tokens) AS audio_output_tokens,
             sum(e.image_input_tokens) AS image_input_tokens,
             sum(e.image_output_tokens) AS image_output_tokens,
             sum(e.web_search_calls) AS web_search_calls, sum(e.tool_calls) AS tool_calls,
             sum(e.input_cost_usd) AS input_cost_usd,
             sum(e.cache_read_input_cost_usd) AS cache_read_input_cost_usd,
             sum(e.cache_write_5m_input_cost_usd) AS cache_write_5m_input_cost_usd,
             sum(e.cache_write_1h_input_cost_usd) AS cache_write_1h_input_cost_usd,
             sum(e.output_cost_usd) AS output_cost_usd,
             sum(e.reasoning_output_cost_usd) AS reasoning_output_cost_usd,
             sum(e.audio_input_cost_usd) AS audio_input_cost_usd,
             sum(e.audio_output_cost_usd) AS audio_output_cost_usd,
             sum(e.image_input_cost_usd) AS image_input_cost_usd,
             sum(e.image_output_cost_usd) AS image_output_cost_usd,
             sum(e.web_search_cost_usd) AS web_search_cost_usd,
             sum(e.tool_call_cost_usd) AS tool_call_cost_usd,
             count(*) FILTER (WHERE e.cost_source = 'provider') AS provider_cost_requests
      FROM app.usage_events AS e GROUP BY 1, 2, 3) AS s
WHERE u.organization_id = s.organization_id AND u.day = s.day AND u.model_id = s.model_id;

-- The trigger, as in 202611221100 with the new sums (same lock order: hourly rows in key order,
-- then daily rows in key order).
CREATE OR REPLACE FUNCTION app.usage_events_rollup() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WITH hourly AS (
        SELECT e.organization_id, date_bin('1 hour', e.occurred_at, '2000-01-01 00:00:00+00') AS hour,
               e.model_id,
               count(*) AS requests, count(*) FILTER (WHERE e.status = 'error') AS errors,
               sum(e.input_tokens) AS input_tokens, sum(e.output_tokens) AS output_tokens,
               sum(e.cost_usd) AS cost_usd,
               sum(e.cache_read_input_tokens) AS cache_read_input_tokens,
               sum(e.cache_write_5m_input_tokens) AS cache_write_5m_input_tokens,
               sum(e.cache_write_1h_input_tokens) AS cache_write_1h_input_tokens,
               sum(e.reasoning_output_tokens) AS reasoning_output_tokens,
               sum(e.audio_input_tokens) AS audio_input_tokens,
               sum(e.audio_output_tokens) AS audio_output_tokens,
               sum(e.image_input_tokens) AS image_input_tokens,
               sum(e.image_output_tokens) AS image_output_tokens,
               sum(e.web_search_calls) AS web_search_calls, sum(e.tool_calls) AS tool_calls,
               sum(e.input_cost_usd) AS input_cost_usd,
               sum(e.cache_read_input_cost_usd) AS cache_read_input_cost_usd,
               sum(e.cache_write_5m_input_cost_usd) AS cache_write_5m_input_cost_usd,
               sum(e.cache_write_1h_input_cost_usd) AS cache_write_1h_input_cost_usd,
               sum(e.output_cost_usd) AS output_cost_usd,
               sum(e.reasoning_output_cost_usd) AS reasoning_output_cost_usd,
               sum(e.audio_input_cost_usd) AS audio_input_cost_usd,
               sum(e.audio_output_cost_usd) AS audio_output_cost_usd,
               sum(e.image_input_cost_usd) AS image_input_cost_usd,
               sum(e.image_output_cost_usd) AS image_output_cost_usd,
               sum(e.web_search_cost_usd) AS web_search_cost_usd,
               sum(e.tool_call_cost_usd) AS tool_call_cost_usd,
               count(*) FILTER (WHERE e.cost_source = 'provider') AS provider_cost_requests
        FROM new_rows AS e
        GROUP BY 1, 2, 3
    ), upsert_hourly AS (
        INSERT INTO app.usage_hourly AS u
            (organization_id, hour, model_id, requests, errors, input_tokens, output_tokens,
            cost_usd, cache_read_input_tokens, cache_write_5m_input_tokens,
            cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens,
            audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls,
            tool_calls, input_cost_usd, cache_read_input_cost_usd,
            cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd,
            reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd,
            image_input_cost_usd, image_output_cost_usd, web_search_cost_usd,
            tool_call_cost_usd, provider_cost_requests)
        SELECT organization_id, hour, model_id, requests, errors, input_tokens, output_tokens,
cost_usd, cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens,
reasoning_output_tokens, audio_input_tokens, audio_output_tokens, image_input_tokens,
image_output_tokens, web_search_calls, tool_calls, input_cost_usd, cache_read_input_cost_usd,
cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd,
reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd,
image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd, provider_cost_requests
        FROM hourly
        ORDER BY organization_id, hour, model_id
        ON CONFLICT ON CONSTRAINT pk_usage_hourly DO UPDATE SET
            requests = u.requests + excluded.requests, errors = u.errors + excluded.errors,
            input_tokens = u.input_tokens + excluded.input_tokens,
            output_tokens = u.output_tokens + excluded.output_tokens,
            cost_usd = u.cost_usd + excluded.cost_usd,
            cache_read_input_tokens = u.cache_read_input_tokens + excluded.cache_read_input_tokens,
            cache_write_5m_input_tokens = u.cache_write_5m_input_tokens + excluded.cache_write_5m_input_tokens,
            cache_write_1h_input_tokens = u.cache_write_1h_input_tokens + excluded.cache_write_1h_input_tokens,
            reasoning_output_tokens = u.reasoning_output_tokens + excluded.reasoning_output_tokens,
            audio_input_tokens = u.audio_input_tokens + excluded.audio_input_tokens,
            audio_output_tokens = u.audio_output_tokens + excluded.audio_output_tokens,
            image_input_tokens = u.image_input_tokens + excluded.image_input_tokens,
            image_output_tokens = u.image_output_tokens + excluded.image_output_tokens,
            web_search_calls = u.web_search_calls + excluded.web_search_calls,
            tool_calls = u.tool_calls + excluded.tool_calls,
            input_cost_usd = u.input_cost_usd + excluded.input_cost_usd,
            cache_read_input_cost_usd = u.cache_read_input_cost_usd + excluded.cache_read_input_cost_usd,
            cache_write_5m_input_cost_usd = u.cache_write_5m_input_cost_usd + excluded.cache_write_5m_input_cost_usd,
            cache_write_1h_input_cost_usd = u.cache_write_1h_input_cost_usd + excluded.cache_write_1h_input_cost_usd,
            output_cost_usd = u.output_cost_usd + excluded.output_cost_usd,
            reasoning_output_cost_usd = u.reasoning_output_cost_usd + excluded.reasoning_output_cost_usd,
            audio_input_cost_usd = u.audio_input_cost_usd + excluded.audio_input_cost_usd,
            audio_output_cost_usd = u.audio_output_cost_usd + excluded.audio_output_cost_usd,
            image_input_cost_usd = u.image_input_cost_usd + excluded.image_input_cost_usd,
            image_output_cost_usd = u.image_output_cost_usd + excluded.image_output_cost_usd,
            web_search_cost_usd = u.web_search_cost_usd + excluded.web_search_cost_usd,
            tool_call_cost_usd = u.tool_call_cost_usd + excluded.tool_call_cost_usd,
            provider_cost_requests = u.provider_cost_requests + excluded.provider_cost_requests
    )
    INSERT INTO app.usage_daily AS u
        (organization_id, day, model_id, requests, errors, input_tokens, output_tokens,
        cost_usd, cache_read_input_tokens, cache_write_5m_input_tokens,
        cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens,
        audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls,
        tool_calls, input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd,
        cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd,
        audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd,
        image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd, provider_cost_requests)
    SELECT organization_id, (hour AT TIME ZONE 'UTC')::date, model_id, sum(requests),
sum(errors), sum(input_tokens), sum(output_tokens), sum(cost_usd), sum(cache_read_input_tokens),
sum(cache_write_5m_input_tokens), sum(cache_write_1h_input_tokens),
sum(reasoning_output_tokens), sum(audio_input_tokens), sum(audio_output_tokens),
sum(image_input_tokens), sum(image_output_tokens), sum(web_search_calls), sum(tool_calls),
sum(input_cost_usd), sum(cache_read_input_cost_usd), sum(cache_write_5m_input_cost_usd),
sum(cache_write_1h_input_cost_usd), sum(output_cost_usd), sum(reasoning_output_cost_usd),
sum(audio_input_cost_usd), sum(audio_output_cost_usd), sum(image_input_cost_usd),
sum(image_output_cost_usd), sum(web_search_cost_usd), sum(tool_call_cost_usd),
sum(provider_cost_requests)
    FROM hourly
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT pk_usage_daily DO UPDATE SET
        requests = u.requests + excluded.requests, errors = u.errors + excluded.errors,
        input_tokens = u.input_tokens + excluded.input_tokens,
        output_tokens = u.output_tokens + excluded.output_tokens,
        cost_usd = u.cost_usd + excluded.cost_usd,
        cache_read_input_tokens = u.cache_read_input_tokens + excluded.cache_read_input_tokens,
        cache_write_5m_input_tokens = u.cache_write_5m_input_tokens + excluded.cache_write_5m_input_tokens,
        cache_write_1h_input_tokens = u.cache_write_1h_input_tokens + excluded.cache_write_1h_input_tokens,
        reasoning_output_tokens = u.reasoning_output_tokens + excluded.reasoning_output_tokens,
        audio_input_tokens = u.audio_input_tokens + excluded.audio_input_tokens,
        audio_output_tokens = u.audio_output_tokens + excluded.audio_output_tokens,
        image_input_tokens = u.image_input_tokens + excluded.image_input_tokens,
        image_output_tokens = u.image_output_tokens + excluded.image_output_tokens,
        web_search_calls = u.web_search_calls + excluded.web_search_calls,
        tool_calls = u.tool_calls + excluded.tool_calls,
        input_cost_usd = u.input_cost_usd + excluded.input_cost_usd,
        cache_read_input_cost_usd = u.cache_read_input_cost_usd + excluded.cache_read_input_cost_usd,
        cache_write_5m_input_cost_usd = u.cache_write_5m_input_cost_usd + excluded.cache_write_5m_input_cost_usd,
        cache_write_1h_input_cost_usd = u.cache_write_1h_input_cost_usd + excluded.cache_write_1h_input_cost_usd,
        output_cost_usd = u.output_cost_usd + excluded.output_cost_usd,
        reasoning_output_cost_usd = u.reasoning_output_cost_usd + excluded.reasoning_output_cost_usd,
        audio_input_cost_usd = u.audio_input_cost_usd + excluded.audio_input_cost_usd,
        audio_output_cost_usd = u.audio_output_cost_usd + excluded.audio_output_cost_usd,
        image_input_cost_usd = u.image_input_cost_usd + excluded.image_input_cost_usd,
        image_output_cost_usd = u.image_output_cost_usd + excluded.image_output_cost_usd,
        web_search_cost_usd = u.web_search_cost_usd + excluded.web_search_cost_usd,
        tool_call_cost_usd = u.tool_call_cost_usd + excluded.tool_call_cost_usd,
        provider_cost_requests = u.provider_cost_requests + excluded.provider_cost_requests;
    RETURN NULL;
END
$$;

-- Two quarantine reasons: a count in a category the event's price version does not offer
-- (unpriced_category), an input beyond the model's context window (exceeds_context_window).
-- lint:allow-drop replaced in the same statement by a wider constraint of the same name
ALTER TABLE ingest.quarantine
    DROP CONSTRAINT ck_quarantine_reason,
    ADD CONSTRAINT ck_quarantine_reason CHECK (reason IN (
        'invalid_encoding', 'malformed_record', 'unknown_field', 'missing_field', 'invalid_type',
        'invalid_value', 'unknown_organization', 'organization_not_active', 'unknown_model',
        'no_price', 'api_key_not_in_organization', 'api_key_inactive', 'user_not_in_organization',
        'occurred_in_future', 'older_than_retention', 'no_partition', 'too_large', 'too_deep',
        'value_out_of_range', 'unpriced_category', 'exceeds_context_window'));

-- The warehouse loader reads the new columns (none is secret or confidential).
GRANT SELECT (cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens,
              reasoning_output_tokens, audio_input_tokens, audio_output_tokens,
              image_input_tokens, image_output_tokens, web_search_calls, tool_calls,
              service_tier, price_id, cost_source, input_cost_usd, cache_read_input_cost_usd,
              cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd,
              reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd,
              image_input_cost_usd, image_output_cost_usd, web_search_cost_usd,
              tool_call_cost_usd)
    ON app.usage_events TO platform_loader;
GRANT SELECT (id, service_tier, above_input_tokens, cache_read_input_usd_per_mtok,
              cache_write_5m_input_usd_per_mtok, cache_write_1h_input_usd_per_mtok,
              reasoning_output_usd_per_mtok, audio_input_usd_per_mtok,
              audio_output_usd_per_mtok, image_input_usd_per_mtok, image_output_usd_per_mtok,
              web_search_usd_per_kcall, tool_call_usd_per_kcall, superseded_at, corrects,
              correction_reason)
    ON app.model_prices TO platform_loader;
GRANT SELECT (cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens,
              reasoning_output_tokens, audio_input_tokens, audio_output_tokens,
              image_input_tokens, image_output_tokens, web_search_calls, tool_calls,
              input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd,
              cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd,
              audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd,
              image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd,
              provider_cost_requests)
    ON app.usage_hourly TO platform_loader;
GRANT SELECT (cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens,
              reasoning_output_tokens, audio_input_tokens, audio_output_tokens,
              image_input_tokens, image_output_tokens, web_search_calls, tool_calls,
              input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd,
              cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd,
              audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd,
              image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd,
              provider_cost_requests)
    ON app.usage_daily TO platform_loader;
