-- Hourly and daily usage rollups per (organization, model), maintained by the database.
-- docs/query-contract.md, change A: org_usage reads app.usage_hourly and budget_consumption reads
-- app.usage_daily, so their cost is rows of rollup (hours or days x models), not events. On 10M
-- events the month's budget check went from ~1.1 s (p95) to under a millisecond.
--
-- Who writes them: one AFTER INSERT ... FOR EACH STATEMENT trigger on the partitioned parent
-- app.usage_events, not each writer. Its transition table (REFERENCING NEW TABLE) holds exactly
-- the rows the statement stored, whichever partition they were routed to, for INSERT ... SELECT,
-- INSERT ... VALUES and COPY alike; rows an ON CONFLICT DO NOTHING skipped are not in it, so a
-- resent event never counts twice. The trigger aggregates them set-based (one hash aggregate per
-- statement, not per row) and adds the sums with INSERT ... ON CONFLICT DO UPDATE, so the rollups
-- are exact and committed in the same transaction as the events: a budget check never lags
-- behind a committed event, and a rolled-back insert leaves no trace.
--   * SECURITY DEFINER, owned by platform_owner, fixed search_path: ingestion (platform_ingest,
--     under RLS), seeds run by a superuser and tests all keep the rollups right without any
--     write grant on them. A trigger function cannot be called directly, only fired.
--   * ENABLE ALWAYS: it fires under session_replication_role = replica too, which bulk loaders
--     (the test seeds, the benchmark) use to skip the organizations FK trigger; the rollups must
--     not depend on that. Consequence: a logical-replication subscriber of app.usage_events must
--     not also subscribe to the rollups (its own trigger maintains them; note that the apply
--     worker fires statement triggers only during the initial table copy).
--   * Lock order: a statement's hourly rows in primary-key order, then its daily rows in
--     primary-key order, each held until commit. Writers that use the same statement shape
--     (ingestion: one INSERT per organization, organizations in order; seeds: one statement)
--     cannot deadlock one another. Two sessions adding to the same (organization, hour, model)
--     serialize from the second one's INSERT to the first one's commit: ingestion should keep
--     its event INSERTs near the end of a chunk's transaction.
--
-- What the rollups do NOT follow (events are append-only; service roles cannot UPDATE or DELETE
-- them, nor write partitions directly):
--   * retention: detaching or dropping a partition of app.usage_events leaves the rollups
--     unchanged. They are history, and keep the usage of days whose events are gone (see
--     retention below). Re-attaching a detached partition (ATTACH PARTITION fires no trigger)
--     agrees with them; copying its rows back in with INSERT would count them twice.
--   * a superuser's UPDATE, DELETE or TRUNCATE of app.usage_events, or an INSERT/COPY into a
--     partition instead of the parent (no statement trigger of the parent fires for it). Fix
--     the rollups of the hours concerned in the same transaction (aggregate the events again).
--   * pg_dump/pg_restore: triggers are created after the data, so a restore copies the rollups
--     as they were and does not count the events again.
--
-- Retention: kept, not pruned with the events (configs/data-classification.yml: until_deleted,
-- i.e. while the organization exists; the FK cascades). They hold no personal data (organization,
-- model and sums only), they are the only usage history once events pass their 400 days, and
-- they are small: one hourly row per organization x model x active hour (10M events over 30 days
-- of 100 tenants: 565k hourly rows, 25k daily rows). If usage_hourly ever grows large, prune its
-- rows older than the events' retention; usage_daily is the long-term history.
--
-- Grain: hourly for dashboards (org_usage, any hour-aligned range), daily for budgets: the
-- current UTC day is one daily row per model and the month so far at most 31 (reading the
-- month's hourly rows instead measured 5.3-5.9 ms, over the contract's 5 ms). A calendar month is
-- a range of days, so no monthly table is needed.

CREATE TABLE app.usage_hourly (
    organization_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    model_id uuid NOT NULL,
    requests bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cost_usd numeric(20, 10) NOT NULL,
    -- Also serves fk_usage_hourly_organization and "a tenant's usage over a range of hours".
    CONSTRAINT pk_usage_hourly PRIMARY KEY (organization_id, hour, model_id),
    CONSTRAINT fk_usage_hourly_organization FOREIGN KEY (organization_id)
        REFERENCES app.organizations (id) ON DELETE CASCADE,
    CONSTRAINT ck_usage_hourly_hour CHECK (hour = date_trunc('hour', hour, 'UTC')),
    CONSTRAINT ck_usage_hourly_counts CHECK (requests > 0 AND errors BETWEEN 0 AND requests),
    CONSTRAINT ck_usage_hourly_tokens CHECK (input_tokens >= 0 AND output_tokens >= 0),
    CONSTRAINT ck_usage_hourly_cost CHECK (cost_usd >= 0)
-- The current hour's rows are updated by every ingest statement of their tenant: free space on
-- each page lets those updates stay HOT (same page, no index insert) and be pruned in place.
) WITH (fillfactor = 70);
ALTER TABLE app.usage_hourly OWNER TO platform_owner;
COMMENT ON TABLE app.usage_hourly IS 'Usage per organization, UTC hour and model, summed from app.usage_events by trigger trg_usage_events_rollup. History: not pruned with the events.';
COMMENT ON COLUMN app.usage_hourly.hour IS 'Start of the UTC hour: date_trunc(''hour'', occurred_at, ''UTC'').';
COMMENT ON COLUMN app.usage_hourly.requests IS 'Events (requests) of the hour.';
COMMENT ON COLUMN app.usage_hourly.errors IS 'Events with status = ''error''.';
COMMENT ON COLUMN app.usage_hourly.cost_usd IS 'Sum of the events'' cost_usd.';

CREATE TABLE app.usage_daily (
    organization_id uuid NOT NULL,
    day date NOT NULL,
    model_id uuid NOT NULL,
    requests bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cost_usd numeric(20, 10) NOT NULL,
    -- Also serves fk_usage_daily_organization and "a tenant's usage of the month so far".
    CONSTRAINT pk_usage_daily PRIMARY KEY (organization_id, day, model_id),
    CONSTRAINT fk_usage_daily_organization FOREIGN KEY (organization_id)
        REFERENCES app.organizations (id) ON DELETE CASCADE,
    CONSTRAINT ck_usage_daily_counts CHECK (requests > 0 AND errors BETWEEN 0 AND requests),
    CONSTRAINT ck_usage_daily_tokens CHECK (input_tokens >= 0 AND output_tokens >= 0),
    CONSTRAINT ck_usage_daily_cost CHECK (cost_usd >= 0)
-- Today's rows are updated by every ingest statement of their tenant (see usage_hourly).
) WITH (fillfactor = 70);
ALTER TABLE app.usage_daily OWNER TO platform_owner;
COMMENT ON TABLE app.usage_daily IS 'Usage per organization, UTC day and model, summed from app.usage_events by trigger trg_usage_events_rollup. History: not pruned with the events.';
COMMENT ON COLUMN app.usage_daily.day IS 'The UTC day: (occurred_at AT TIME ZONE ''UTC'')::date.';
COMMENT ON COLUMN app.usage_daily.requests IS 'Events (requests) of the day.';
COMMENT ON COLUMN app.usage_daily.errors IS 'Events with status = ''error''.';
COMMENT ON COLUMN app.usage_daily.cost_usd IS 'Sum of the events'' cost_usd.';

-- Row-level security as for app.usage_events: a service role reads its tenant's rows only.
-- Service roles get no write grant at all (platform_app: SELECT; platform_ingest and
-- platform_analyst: nothing), so their policies are SELECT-only.
ALTER TABLE app.usage_hourly ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_usage_hourly_tenant ON app.usage_hourly
    FOR SELECT TO platform_app, platform_ingest, platform_analyst
    USING (organization_id = app.current_org_id());
ALTER TABLE app.usage_daily ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_usage_daily_tenant ON app.usage_daily
    FOR SELECT TO platform_app, platform_ingest, platform_analyst
    USING (organization_id = app.current_org_id());
-- The only writer: platform_owner, for every tenant (FORCE RLS filters the owner too, so it needs
-- a policy). platform_owner is NOLOGIN: nobody connects as it. It acts only through SECURITY
-- DEFINER functions it owns, and of those only app.usage_events_rollup (a trigger function,
-- which nothing can call directly) writes here; superusers bypass RLS anyway. The upsert needs
-- SELECT, INSERT and UPDATE on the conflicting row; FOR ALL also leaves DELETE to a future
-- pruning job run by the owner.
CREATE POLICY p_usage_hourly_maintained_by_owner ON app.usage_hourly
    FOR ALL TO platform_owner
    USING (true) WITH CHECK (true);
CREATE POLICY p_usage_daily_maintained_by_owner ON app.usage_daily
    FOR ALL TO platform_owner
    USING (true) WITH CHECK (true);
GRANT SELECT ON app.usage_hourly, app.usage_daily TO platform_app;

CREATE FUNCTION app.usage_events_rollup() RETURNS trigger
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
ALTER FUNCTION app.usage_events_rollup() OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.usage_events_rollup() FROM PUBLIC;
COMMENT ON FUNCTION app.usage_events_rollup() IS 'Trigger of app.usage_events: adds each INSERT statement''s stored rows to app.usage_hourly and app.usage_daily.';

-- From here to COMMIT no event can be inserted: the events already stored are summed once below,
-- and every later statement by the trigger, none twice. (CREATE TRIGGER takes this lock anyway;
-- taking it first makes the lock_timeout apply before anything else is done.) The backfill reads
-- every retained event: 23 s for the benchmark's 10M events (2 cores), during which ingest
-- INSERTs wait (they do not fail). On a large table, pause ingestion for the migration.
LOCK TABLE app.usage_events IN SHARE ROW EXCLUSIVE MODE;
CREATE TRIGGER trg_usage_events_rollup
    AFTER INSERT ON app.usage_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.usage_events_rollup();
ALTER TABLE app.usage_events ENABLE ALWAYS TRIGGER trg_usage_events_rollup;

-- Backfill: the events stored before the trigger existed. As the migration's superuser (RLS does
-- not apply), one hash aggregate instead of an external sort.
SET LOCAL work_mem = '256MB';  -- until COMMIT
INSERT INTO app.usage_hourly
    (organization_id, hour, model_id, requests, errors, input_tokens, output_tokens, cost_usd)
SELECT organization_id, date_bin('1 hour', occurred_at, '2000-01-01 00:00:00+00'), model_id,
       count(*), count(*) FILTER (WHERE status = 'error'), sum(input_tokens), sum(output_tokens),
       sum(cost_usd)
FROM app.usage_events
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
INSERT INTO app.usage_daily
    (organization_id, day, model_id, requests, errors, input_tokens, output_tokens, cost_usd)
SELECT organization_id, (hour AT TIME ZONE 'UTC')::date, model_id,
       sum(requests), sum(errors), sum(input_tokens), sum(output_tokens), sum(cost_usd)
FROM app.usage_hourly
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
