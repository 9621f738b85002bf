-- Back to the definition of 202611220300_usage_events, then drop the statistics the new one made
-- (on partitions, and on partitions detached and kept since).
CREATE OR REPLACE FUNCTION app.ensure_usage_partitions(p_from date, p_to date) RETURNS integer
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

DO $$
DECLARE
    s text;
BEGIN
    FOR s IN
        SELECT stxname FROM pg_statistic_ext
        WHERE stxnamespace = 'app'::regnamespace AND stxname ~ '^usage_events_p[0-9]{8}.*_key_tenant$'
        ORDER BY 1
    LOOP
        EXECUTE format('DROP STATISTICS app.%I', s);
    END LOOP;
END
$$;
