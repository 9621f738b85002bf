-- The loader's staging tables: session-private and emptied at every commit. `seq` is the row's
-- position in the chunk's share: each organization's rows are one seq range, and a duplicate is
-- found by its seq.
CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage (
    seq integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    organization_id uuid NOT NULL,
    user_id uuid,
    api_key_id uuid,
    model_id uuid NOT NULL,
    input_tokens integer NOT NULL,
    output_tokens integer NOT NULL,
    latency_ms integer NOT NULL,
    event_id text NOT NULL,
    operation text NOT NULL,
    status text NOT NULL,
    error_code text,
    cost_usd numeric(18, 10) NOT NULL,
    metadata jsonb,
    price_id bigint NOT NULL,
    input_cost_usd numeric(18, 10) NOT NULL,
    output_cost_usd numeric(18, 10) NOT NULL,
    cache_read_input_tokens integer NOT NULL,
    cache_write_5m_input_tokens integer NOT NULL,
    cache_write_1h_input_tokens integer NOT NULL,
    reasoning_output_tokens integer NOT NULL,
    audio_input_tokens integer NOT NULL,
    audio_output_tokens integer NOT NULL,
    image_input_tokens integer NOT NULL,
    image_output_tokens integer NOT NULL,
    web_search_calls integer NOT NULL,
    tool_calls integer NOT NULL,
    service_tier text NOT NULL,
    cost_source text NOT NULL,
    cache_read_input_cost_usd numeric(18, 10) NOT NULL,
    cache_write_5m_input_cost_usd numeric(18, 10) NOT NULL,
    cache_write_1h_input_cost_usd numeric(18, 10) NOT NULL,
    reasoning_output_cost_usd numeric(18, 10) NOT NULL,
    audio_input_cost_usd numeric(18, 10) NOT NULL,
    audio_output_cost_usd numeric(18, 10) NOT NULL,
    image_input_cost_usd numeric(18, 10) NOT NULL,
    image_output_cost_usd numeric(18, 10) NOT NULL,
    web_search_cost_usd numeric(18, 10) NOT NULL,
    tool_call_cost_usd numeric(18, 10) NOT NULL,
    -- the event's raw line when its metadata holds a non-integer number: jsonb then takes
    -- metadata from the text as sent (DuckDB's rendering would pass it through a double)
    metadata_line text
) ON COMMIT DELETE ROWS;
CREATE INDEX IF NOT EXISTS ingest_stage_seq ON ingest_stage (seq);
CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage_keys (
    seq integer NOT NULL,
    key_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL
) ON COMMIT DELETE ROWS;
