-- Extended statistics (dependencies) on (api_key_id, organization_id) for every partition of
-- app.usage_events (docs/query-contract.md, change C).
--
-- Every tenant query on usage_events carries organization_id = <tenant> (the RLS policy and the
-- query's own parameter). For "the newest events of a key" (key_latest_events) the planner
-- multiplied that condition's selectivity (1 / tenants) with the key's, expected 1/Nth of the
-- key's rows, and chose to read and sort every event of the key in the window instead of walking
-- the key index newest first and stopping after one page. A key belongs to one organization, so
-- api_key_id determines organization_id: with these statistics ANALYZE records that functional
-- dependency and the estimate is the key's own. On the contract test's data: 4.6 ms -> 0.23 ms.
--
-- Extended statistics are per table and a partitioned parent's do not apply to its partitions,
-- so each partition gets its own object, named <partition>_key_tenant:
--   * new partitions: app.ensure_usage_partitions creates them with the partition (an empty
--     partition: autovacuum's ANALYZE fills them once rows arrive). For a day whose partition
--     exists but lacks them, it adds them too, so every call repairs its window.
--   * existing partitions: below, through the same function, one day at a time.
-- They cost ingestion nothing (computed by ANALYZE only).
CREATE OR REPLACE FUNCTION app.ensure_usage_partitions(p_from date, p_to date) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d date;
    partition_name text;
    partition_oid oid;
    statistics_name text;
    holder oid;
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
        partition_oid := to_regclass('app.' || partition_name);
        IF partition_oid IS NULL THEN
            -- Bounds spelled out as UTC midnights: independent of the session's TimeZone and DateStyle.
            EXECUTE format('CREATE TABLE app.%I PARTITION OF app.usage_events FOR VALUES FROM (%L) TO (%L)',
                           partition_name, to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
                           to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
            partition_oid := to_regclass('app.' || partition_name);
            created := created + 1;
        END IF;
        -- A key implies its tenant (migration 202611221120). The name may still be held by the
        -- statistics of an earlier table of this day that partition maintenance detached and
        -- kept (renamed <partition>_detached): those are renamed after their table first.
        statistics_name := partition_name || '_key_tenant';
        SELECT s.stxrelid INTO holder FROM pg_statistic_ext AS s
        WHERE s.stxnamespace = 'app'::regnamespace AND s.stxname = statistics_name;
        IF holder IS DISTINCT FROM partition_oid THEN
            IF holder IS NOT NULL THEN
                EXECUTE format('ALTER STATISTICS app.%I RENAME TO %I', statistics_name,
                               left((SELECT c.relname FROM pg_class AS c WHERE c.oid = holder), 52) || '_key_tenant');
            END IF;
            EXECUTE format('CREATE STATISTICS app.%I (dependencies) ON api_key_id, organization_id FROM app.%I',
                           statistics_name, partition_name);
        END IF;
    END LOOP;
    RETURN created;
END
$$;

-- The partitions that exist (the function's own naming: usage_events_pYYYYMMDD), one day each,
-- so no missing day in between is created.
SELECT app.ensure_usage_partitions(day, day + 1)
FROM (SELECT to_date(right(c.relname, 8), 'YYYYMMDD') AS day
      FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'app.usage_events'::regclass AND c.relname ~ '^usage_events_p[0-9]{8}$'
      ORDER BY 1) AS partitions;

-- Statistics hold nothing until ANALYZE. Autovacuum analyzes a partition again only after enough
-- of it changed, which a past day's partition never does: analyze the days key_latest_events
-- reads (its window is at most 31 days), under SHARE UPDATE EXCLUSIVE (inserts and reads go on).
-- Older partitions get the dependency at their next ANALYZE (ANALYZE app.usage_events_pYYYYMMDD).
DO $$
DECLARE
    p regclass;
BEGIN
    FOR p IN
        SELECT c.oid::regclass
        FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'app.usage_events'::regclass AND c.relname ~ '^usage_events_p[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD')
              BETWEEN (now() AT TIME ZONE 'UTC')::date - 32 AND (now() AT TIME ZONE 'UTC')::date
        ORDER BY 1
    LOOP
        EXECUTE format('ANALYZE %s', p);
    END LOOP;
END
$$;
