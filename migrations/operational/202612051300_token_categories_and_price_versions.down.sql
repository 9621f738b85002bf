-- Back to envelope 1.0 pricing. What only 1.1 could record is lost: the category counts
-- and costs, service tiers, price versions beyond one base standard price per model and period,
-- corrections (the current version of a corrected period is kept), provider-reported costs'
-- source (their cost_usd is kept). Events and quarantine rows that the old constraints cannot
-- hold make this fail rather than be altered: a quarantine row with a new reason is deleted
-- first only if you do it yourself.
REVOKE SELECT (cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens, audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls, tool_calls, input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd, image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd, provider_cost_requests)
    ON app.usage_hourly, app.usage_daily FROM platform_loader;
REVOKE SELECT (id, service_tier, above_input_tokens, cache_read_input_usd_per_mtok, cache_write_5m_input_usd_per_mtok, cache_write_1h_input_usd_per_mtok, reasoning_output_usd_per_mtok, audio_input_usd_per_mtok, audio_output_usd_per_mtok, image_input_usd_per_mtok, image_output_usd_per_mtok, web_search_usd_per_kcall, tool_call_usd_per_kcall, superseded_at, corrects, correction_reason)
    ON app.model_prices FROM platform_loader;
REVOKE SELECT (cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens, audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls, tool_calls, service_tier, price_id, cost_source, input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd, image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd)
    ON app.usage_events FROM platform_loader;

-- lint:allow-drop restores the previous constraint of the same name
ALTER TABLE ingest.quarantine
    DROP CONSTRAINT ck_quarantine_reason,
    ADD CONSTRAINT ck_quarantine_reason CHECK (reason IN (
        'invalid_encoding', 'malformed_record', 'unknown_field', 'missing_field', 'invalid_type',
        'invalid_value', 'unknown_organization', 'organization_not_active', 'unknown_model',
        'no_price', 'api_key_not_in_organization', 'api_key_inactive', 'user_not_in_organization',
        'occurred_in_future', 'older_than_retention', 'no_partition', 'too_large', 'too_deep',
        'value_out_of_range'));

CREATE OR REPLACE FUNCTION app.usage_events_rollup() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Buckets in UTC whatever the session's TimeZone: date_bin from a UTC midnight is
    -- date_trunc('hour', occurred_at, 'UTC') (the tests compare the two) in plain integer
    -- arithmetic, without the time-zone lookup that costs date_trunc ~0.17 us per event. The
    -- daily sums come from the statement's hourly groups (tens to hundreds of rows), not from its
    -- events again. new_rows lives in memory up to the session's work_mem (the loader sets 64MB:
    -- a 50k-event chunk fits), beyond that in a temporary file.
    WITH hourly AS (
        SELECT e.organization_id, date_bin('1 hour', e.occurred_at, '2000-01-01 00:00:00+00') AS hour,
               e.model_id,
               count(*) AS requests, count(*) FILTER (WHERE e.status = 'error') AS errors,
               sum(e.input_tokens) AS input_tokens, sum(e.output_tokens) AS output_tokens,
               sum(e.cost_usd) AS cost_usd
        FROM new_rows AS e
        GROUP BY 1, 2, 3
    ), upsert_hourly AS (
        INSERT INTO app.usage_hourly AS u
            (organization_id, hour, model_id, requests, errors, input_tokens, output_tokens, cost_usd)
        SELECT organization_id, hour, model_id, requests, errors, input_tokens, output_tokens, cost_usd
        FROM hourly
        ORDER BY organization_id, hour, model_id
        ON CONFLICT ON CONSTRAINT pk_usage_hourly DO UPDATE SET
            requests = u.requests + excluded.requests,
            errors = u.errors + excluded.errors,
            input_tokens = u.input_tokens + excluded.input_tokens,
            output_tokens = u.output_tokens + excluded.output_tokens,
            cost_usd = u.cost_usd + excluded.cost_usd
    )
    INSERT INTO app.usage_daily AS u
        (organization_id, day, model_id, requests, errors, input_tokens, output_tokens, cost_usd)
    SELECT organization_id, (hour AT TIME ZONE 'UTC')::date, model_id, sum(requests), sum(errors),
           sum(input_tokens), sum(output_tokens), sum(cost_usd)
    FROM hourly
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT pk_usage_daily DO UPDATE SET
        requests = u.requests + excluded.requests,
        errors = u.errors + excluded.errors,
        input_tokens = u.input_tokens + excluded.input_tokens,
        output_tokens = u.output_tokens + excluded.output_tokens,
        cost_usd = u.cost_usd + excluded.cost_usd;
    RETURN NULL;
END
$$;

ALTER TABLE app.usage_hourly
    DROP COLUMN cache_read_input_tokens,
    DROP COLUMN cache_write_5m_input_tokens,
    DROP COLUMN cache_write_1h_input_tokens,
    DROP COLUMN reasoning_output_tokens,
    DROP COLUMN audio_input_tokens,
    DROP COLUMN audio_output_tokens,
    DROP COLUMN image_input_tokens,
    DROP COLUMN image_output_tokens,
    DROP COLUMN web_search_calls,
    DROP COLUMN tool_calls,
    DROP COLUMN input_cost_usd,
    DROP COLUMN cache_read_input_cost_usd,
    DROP COLUMN cache_write_5m_input_cost_usd,
    DROP COLUMN cache_write_1h_input_cost_usd,
    DROP COLUMN output_cost_usd,
    DROP COLUMN reasoning_output_cost_usd,
    DROP COLUMN audio_input_cost_usd,
    DROP COLUMN audio_output_cost_usd,
    DROP COLUMN image_input_cost_usd,
    DROP COLUMN image_output_cost_usd,
    DROP COLUMN web_search_cost_usd,
    DROP COLUMN tool_call_cost_usd,
    DROP COLUMN provider_cost_requests;
ALTER TABLE app.usage_daily
    DROP COLUMN cache_read_input_tokens,
    DROP COLUMN cache_write_5m_input_tokens,
    DROP COLUMN cache_write_1h_input_tokens,
    DROP COLUMN reasoning_output_tokens,
    DROP COLUMN audio_input_tokens,
    DROP COLUMN audio_output_tokens,
    DROP COLUMN image_input_tokens,
    DROP COLUMN image_output_tokens,
    DROP COLUMN web_search_calls,
    DROP COLUMN tool_calls,
    DROP COLUMN input_cost_usd,
    DROP COLUMN cache_read_input_cost_usd,
    DROP COLUMN cache_write_5m_input_cost_usd,
    DROP COLUMN cache_write_1h_input_cost_usd,
    DROP COLUMN output_cost_usd,
    DROP COLUMN reasoning_output_cost_usd,
    DROP COLUMN audio_input_cost_usd,
    DROP COLUMN audio_output_cost_usd,
    DROP COLUMN image_input_cost_usd,
    DROP COLUMN image_output_cost_usd,
    DROP COLUMN web_search_cost_usd,
    DROP COLUMN tool_call_cost_usd,
    DROP COLUMN provider_cost_requests;

ALTER TABLE app.usage_events
    DROP CONSTRAINT ck_usage_events_categories,
    DROP CONSTRAINT ck_usage_events_cost_source,
    DROP CONSTRAINT ck_usage_events_service_tier,
    DROP COLUMN cache_read_input_tokens,
    DROP COLUMN cache_write_5m_input_tokens,
    DROP COLUMN cache_write_1h_input_tokens,
    DROP COLUMN reasoning_output_tokens,
    DROP COLUMN audio_input_tokens,
    DROP COLUMN audio_output_tokens,
    DROP COLUMN image_input_tokens,
    DROP COLUMN image_output_tokens,
    DROP COLUMN web_search_calls,
    DROP COLUMN tool_calls,
    DROP COLUMN service_tier,
    DROP COLUMN price_id,
    DROP COLUMN cost_source,
    DROP COLUMN input_cost_usd,
    DROP COLUMN cache_read_input_cost_usd,
    DROP COLUMN cache_write_5m_input_cost_usd,
    DROP COLUMN cache_write_1h_input_cost_usd,
    DROP COLUMN output_cost_usd,
    DROP COLUMN reasoning_output_cost_usd,
    DROP COLUMN audio_input_cost_usd,
    DROP COLUMN audio_output_cost_usd,
    DROP COLUMN image_input_cost_usd,
    DROP COLUMN image_output_cost_usd,
    DROP COLUMN web_search_cost_usd,
    DROP COLUMN tool_call_cost_usd;
COMMENT ON COLUMN app.usage_events.input_tokens IS NULL;
COMMENT ON COLUMN app.usage_events.output_tokens IS NULL;
COMMENT ON COLUMN app.usage_events.cost_usd IS NULL;

DROP FUNCTION app.correct_model_price(bigint, jsonb, text);

-- Only one base standard current version per model and period can stay. Deleting started
-- versions is what the history trigger exists to refuse, so it is off for these deletes only.
ALTER TABLE app.model_prices DISABLE TRIGGER trg_model_prices_keep_history;
ALTER TABLE app.model_prices DROP CONSTRAINT fk_model_prices_corrects;
DELETE FROM app.model_prices
WHERE superseded_at IS NOT NULL OR service_tier <> 'standard' OR above_input_tokens <> 0;
ALTER TABLE app.model_prices ENABLE TRIGGER trg_model_prices_keep_history;
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
            AND (NEW.model_id, NEW.effective_from, NEW.input_usd_per_mtok, NEW.output_usd_per_mtok, NEW.created_at)
                IS NOT DISTINCT FROM
                (OLD.model_id, OLD.effective_from, OLD.input_usd_per_mtok, OLD.output_usd_per_mtok, OLD.created_at)))
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'model_prices: the period of model % from % has started and is history; close it (effective_to >= now()) and add a new period instead',
        OLD.model_id, OLD.effective_from
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
-- lint:allow-drop restores the previous key and exclusion constraint
ALTER TABLE app.model_prices
    DROP CONSTRAINT ex_model_prices_no_overlap,
    DROP CONSTRAINT ck_model_prices_correction,
    DROP CONSTRAINT ck_model_prices_rates,
    DROP CONSTRAINT ck_model_prices_above_input_tokens,
    DROP CONSTRAINT ck_model_prices_service_tier,
    DROP CONSTRAINT pk_model_prices,
    ADD CONSTRAINT pk_model_prices PRIMARY KEY (model_id, effective_from),
    ADD CONSTRAINT ex_model_prices_no_overlap EXCLUDE USING gist (
        model_id WITH =, tstzrange(effective_from, effective_to) WITH &&),
    DROP COLUMN id,
    DROP COLUMN service_tier,
    DROP COLUMN above_input_tokens,
    DROP COLUMN cache_read_input_usd_per_mtok,
    DROP COLUMN cache_write_5m_input_usd_per_mtok,
    DROP COLUMN cache_write_1h_input_usd_per_mtok,
    DROP COLUMN reasoning_output_usd_per_mtok,
    DROP COLUMN audio_input_usd_per_mtok,
    DROP COLUMN audio_output_usd_per_mtok,
    DROP COLUMN image_input_usd_per_mtok,
    DROP COLUMN image_output_usd_per_mtok,
    DROP COLUMN web_search_usd_per_kcall,
    DROP COLUMN tool_call_usd_per_kcall,
    DROP COLUMN superseded_at,
    DROP COLUMN corrects,
    DROP COLUMN correction_reason;
COMMENT ON TABLE app.model_prices IS 'Price history per model, USD per million input/output tokens, over [effective_from, effective_to).';
