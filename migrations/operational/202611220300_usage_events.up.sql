-- One row per LLM request, the table ingestion writes at >= 100k rows/s (COPY into a staging
-- table, then one set-based INSERT ... SELECT per batch). Everything here is kept lean for that.
--
-- Partition grain: one partition per UTC day, RANGE on occurred_at, because
--   * retention drops or detaches whole days: no DELETE, no bloat, no vacuum debt;
--   * the partition being written (today's) and its indexes stay small enough to be cached,
--     which keeps index maintenance on the ingest path cheap; a month at peak rates would be
--     billions of rows in one partition;
--   * daily budgets and "today" dashboards read exactly one partition, monthly budgets at most
--     31, and range queries prune to the days they cover;
--   * ~400 partitions for a year of retention is well within what PostgreSQL 15 prunes cheaply.
-- There is NO default partition: an event outside the created partitions fails its INSERT
-- ("no partition of relation ... found for row") instead of landing somewhere retention and
-- queries do not look. app.ensure_usage_partitions creates days ahead; the partition
-- maintenance asset calls it.
--
-- References: only organization_id has a foreign key (the row's tenant must exist). user_id,
-- api_key_id and model_id are validated by the ingestion code, set-based against the staging
-- table, instead of per-row FK triggers that would cost three index probes per event; keys and
-- models are never deleted (revoked, retired), so validated references stay valid.
-- Cost: computed by ingestion from app.model_prices in effect at occurred_at and stored, so a
-- later price change never rewrites it.
-- Columns are ordered fixed-width first (8-byte, then 16-byte uuids, then 4-byte) so rows carry
-- no alignment padding.
CREATE TABLE app.usage_events (
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    organization_id uuid NOT NULL,
    user_id uuid,
    api_key_id uuid,
    model_id uuid NOT NULL,
    input_tokens integer NOT NULL,
    output_tokens integer NOT NULL,
    latency_ms integer NOT NULL,
    -- The client's idempotency key, unique per organization together with occurred_at.
    event_id text NOT NULL,
    operation text NOT NULL,
    status text NOT NULL,
    error_code text,
    cost_usd numeric(18, 10) NOT NULL,
    -- Every unique key of a partitioned table must contain the partition key. Column order
    -- (organization_id, occurred_at, event_id) makes the primary key also serve "a tenant's
    -- usage over a time range" and "budget consumption in the current period", so the table
    -- needs no separate org/time index. Retries that resend the same event (same event_id and
    -- occurred_at) collide here, which an idempotent INSERT ... ON CONFLICT can build on.
    CONSTRAINT pk_usage_events PRIMARY KEY (organization_id, occurred_at, event_id),
    CONSTRAINT fk_usage_events_organization FOREIGN KEY (organization_id) REFERENCES app.organizations (id),
    CONSTRAINT ck_usage_events_event_id CHECK (length(event_id) BETWEEN 1 AND 128),
    CONSTRAINT ck_usage_events_operation CHECK (operation ~ '^[a-z][a-z0-9_.]{0,63}$'),
    CONSTRAINT ck_usage_events_input_tokens CHECK (input_tokens >= 0),
    CONSTRAINT ck_usage_events_output_tokens CHECK (output_tokens >= 0),
    CONSTRAINT ck_usage_events_latency_ms CHECK (latency_ms >= 0),
    CONSTRAINT ck_usage_events_status CHECK (status IN ('success', 'error')),
    -- Only failed requests carry an error code (a failure may lack one).
    CONSTRAINT ck_usage_events_error_code CHECK (
        error_code IS NULL OR (status = 'error' AND length(error_code) BETWEEN 1 AND 100)),
    CONSTRAINT ck_usage_events_cost CHECK (cost_usd >= 0)
) PARTITION BY RANGE (occurred_at);
ALTER TABLE app.usage_events OWNER TO platform_owner;
COMMENT ON TABLE app.usage_events IS 'One row per LLM request; daily RANGE partitions on occurred_at (UTC), no default partition. FK only to organizations: user, key and model are validated by ingestion.';

-- "Latest events for a key": newest first, only rows that have a key.
CREATE INDEX idx_usage_events_api_key_occurred_at ON app.usage_events (api_key_id, occurred_at DESC)
    WHERE api_key_id IS NOT NULL;

ALTER TABLE app.usage_events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
-- Ingestion inserts each organization's share of a batch in that tenant's transaction setting
-- (set_config may change within one transaction), still one set-based INSERT per tenant.
CREATE POLICY p_usage_events_tenant ON app.usage_events
    FOR ALL TO platform_app, platform_ingest, platform_analyst
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
-- Partitions get no grants: a role that could read a partition directly would skip the
-- parent's policies. Everyone goes through app.usage_events.
GRANT SELECT ON app.usage_events TO platform_app;
GRANT SELECT, INSERT ON app.usage_events TO platform_ingest;

-- Creates the missing daily partitions for the UTC days [p_from, p_to); returns how many it
-- created. Idempotent. Also the partition maintenance asset's tool. SECURITY DEFINER so the
-- partitions are owned by platform_owner whoever calls it; only the owner and superusers may.
-- Note CREATE TABLE ... PARTITION OF locks the parent briefly (ACCESS EXCLUSIVE): call it with a
-- lock_timeout, days ahead, not for the day being written.
CREATE FUNCTION app.ensure_usage_partitions(p_from date, p_to date) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d date;
    partition_name text;
    created integer := 0;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to <= p_from THEN
        RAISE EXCEPTION 'ensure_usage_partitions(%, %): need p_from < p_to', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_to - p_from > 3660 THEN
        RAISE EXCEPTION 'ensure_usage_partitions(%, %): more than 3660 days at once, surely a mistake', p_from, p_to
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Two concurrent callers would race between the existence check and CREATE TABLE.
    PERFORM pg_advisory_xact_lock(hashtext('app.ensure_usage_partitions'));
    FOR d IN SELECT generate_series(p_from, p_to - 1, interval '1 day')::date LOOP
        partition_name := 'usage_events_p' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass('app.' || partition_name) IS NOT NULL;
        -- Bounds spelled out as UTC midnights: independent of the session's TimeZone and DateStyle.
        EXECUTE format('CREATE TABLE app.%I PARTITION OF app.usage_events FOR VALUES FROM (%L) TO (%L)',
                       partition_name, to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
                       to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
ALTER FUNCTION app.ensure_usage_partitions(date, date) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.ensure_usage_partitions(date, date) FROM PUBLIC;

-- Initial window: the last 7 UTC days (late-arriving events, first seeds) and the next 14, so a
-- new environment ingests before the maintenance asset first runs. Older days on demand.
SELECT app.ensure_usage_partitions((now() AT TIME ZONE 'UTC')::date - 7, (now() AT TIME ZONE 'UTC')::date + 15);
