-- app.rebuild_usage_rollups: rebuild the app.usage_hourly / app.usage_daily rows of some
-- (organization, hour) groups from the events, as a replace. The trigger app.usage_events_rollup
-- only ADDS what an INSERT stores; whoever changes stored events otherwise (a reprice, a
-- superuser's UPDATE or DELETE, see 202611221100) calls this for the groups it touched, in the
-- same transaction, instead of restating the rollup's sums.
--
--   SELECT * FROM app.rebuild_usage_rollups(ARRAY[org_a, org_b]::uuid[],
--                                            ARRAY[hour_a, hour_b]::timestamptz[]);
--
-- Group i is (p_organization_ids[i], p_hours[i]); an hour is the start of a UTC hour. For each
-- group, its hourly rows (one per model) become the sums of its events, and a model with no
-- event left in it loses its row. Each group's UTC day is rebuilt the same way from all the
-- events of that organization and day (daily rows of a day whose hours were not given change
-- only if the events of those hours changed without a rebuild). Rows of other groups are not
-- touched. Returns the rows the given hours and their days hold afterwards.
--
--   * Not SECURITY DEFINER: like app.correct_model_price it is the owner's and the superusers'
--     tool (the rollups are written by no service role), so it runs with the caller's rights
--     and EXECUTE is revoked from PUBLIC. FORCE RLS: the owner writes through its
--     p_usage_*_maintained_by_owner policies, superusers bypass RLS.
--   * It locks app.usage_events in SHARE ROW EXCLUSIVE mode until commit (the reprice already
--     holds it: no-op): no INSERT can commit between reading the events and writing the sums,
--     which would otherwise be lost from, or counted twice in, the rollup. Ingestion waits.
--   * Retention: the rollups keep the usage of days whose partition was retired; rebuilding
--     such a day would erase that history, so a group whose UTC day no partition of
--     app.usage_events covers is refused (nothing is changed).
--   * Same sums as the trigger (202612051300), and as there the daily sums come from the
--     hourly groups. A migration that adds a rollup column changes both functions.
CREATE FUNCTION app.rebuild_usage_rollups(p_organization_ids uuid[], p_hours timestamptz[])
    RETURNS TABLE (hourly_rows bigint, daily_rows bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad text;
BEGIN
    IF cardinality(p_organization_ids) IS DISTINCT FROM cardinality(p_hours) THEN
        RAISE EXCEPTION 'rebuild_usage_rollups: % organization id(s) for % hour(s)',
            cardinality(p_organization_ids), cardinality(p_hours)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(g.organization_id::text, 'NULL') || ' ' || coalesce(g.hour::text, 'NULL') INTO bad
    FROM unnest(p_organization_ids, p_hours) AS g (organization_id, hour)
    WHERE g.organization_id IS NULL OR g.hour IS NULL OR g.hour <> date_trunc('hour', g.hour, 'UTC')
    LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'rebuild_usage_rollups: group (%) is not an organization and the start of a UTC hour', bad
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    LOCK TABLE app.usage_events IN SHARE ROW EXCLUSIVE MODE;

    -- A day is covered when a range partition's bounds hold the whole UTC day (partitions are
    -- daily on UTC midnights, lib/partitions/maintenance.py reads the bounds the same way).
    SELECT d.day::text INTO bad
    FROM (SELECT DISTINCT (hour AT TIME ZONE 'UTC')::date AS day FROM unnest(p_hours) AS hour) AS d
    WHERE NOT EXISTS (
        SELECT 1
        FROM pg_inherits AS i
        JOIN pg_class AS c ON c.oid = i.inhrelid
        CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) AS b
        WHERE i.inhparent = 'app.usage_events'::regclass
          AND (regexp_match(b.bound, $re$FROM \('([^']*)'\)$re$))[1]::timestamptz <= (d.day::timestamp AT TIME ZONE 'UTC')
          AND (regexp_match(b.bound, $re$TO \('([^']*)'\)$re$))[1]::timestamptz >= ((d.day + 1)::timestamp AT TIME ZONE 'UTC'))
    ORDER BY d.day
    LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'rebuild_usage_rollups: no partition of app.usage_events holds %: its events were retired and the rollups are their only history; nothing was changed', bad
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Replace: the groups' rows go, then the sums of the events that are left come back.
    DELETE FROM app.usage_hourly AS u
    USING (SELECT DISTINCT organization_id, hour
           FROM unnest(p_organization_ids, p_hours) AS g (organization_id, hour)) AS g
    WHERE u.organization_id = g.organization_id AND u.hour = g.hour;
    DELETE FROM app.usage_daily AS u
    USING (SELECT DISTINCT organization_id, (hour AT TIME ZONE 'UTC')::date AS day
           FROM unnest(p_organization_ids, p_hours) AS g (organization_id, hour)) AS d
    WHERE u.organization_id = d.organization_id AND u.day = d.day;

    RETURN QUERY
    WITH groups AS (
        SELECT DISTINCT organization_id, hour
        FROM unnest(p_organization_ids, p_hours) AS g (organization_id, hour)
    ), days AS (
        SELECT DISTINCT organization_id, (hour AT TIME ZONE 'UTC')::date AS day FROM groups
    ), hourly AS (  -- every hour of the groups' days: the daily sums need them all
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
        FROM days AS d
        JOIN app.usage_events AS e
          ON e.organization_id = d.organization_id
         AND e.occurred_at >= (d.day::timestamp AT TIME ZONE 'UTC')
         AND e.occurred_at < ((d.day + 1)::timestamp AT TIME ZONE 'UTC')
        GROUP BY 1, 2, 3
    ), insert_hourly AS (
        INSERT INTO app.usage_hourly
            (organization_id, hour, model_id, requests, errors, input_tokens, output_tokens,
            cost_usd, cache_read_input_tokens, cache_write_5m_input_tokens,
            cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens,
            audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls,
            tool_calls, input_cost_usd, cache_read_input_cost_usd,
            cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd,
            reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd,
            image_input_cost_usd, image_output_cost_usd, web_search_cost_usd,
            tool_call_cost_usd, provider_cost_requests)
        SELECT h.organization_id, h.hour, h.model_id, h.requests, h.errors, h.input_tokens,
               h.output_tokens, h.cost_usd, h.cache_read_input_tokens,
               h.cache_write_5m_input_tokens, h.cache_write_1h_input_tokens,
               h.reasoning_output_tokens, h.audio_input_tokens, h.audio_output_tokens,
               h.image_input_tokens, h.image_output_tokens, h.web_search_calls, h.tool_calls,
               h.input_cost_usd, h.cache_read_input_cost_usd, h.cache_write_5m_input_cost_usd,
               h.cache_write_1h_input_cost_usd, h.output_cost_usd, h.reasoning_output_cost_usd,
               h.audio_input_cost_usd, h.audio_output_cost_usd, h.image_input_cost_usd,
               h.image_output_cost_usd, h.web_search_cost_usd, h.tool_call_cost_usd,
               h.provider_cost_requests
        FROM hourly AS h
        JOIN groups AS g ON g.organization_id = h.organization_id AND g.hour = h.hour
        ORDER BY 1, 2, 3
        RETURNING 1
    ), insert_daily AS (
        INSERT INTO app.usage_daily
            (organization_id, day, model_id, requests, errors, input_tokens, output_tokens,
            cost_usd, cache_read_input_tokens, cache_write_5m_input_tokens,
            cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens,
            audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls,
            tool_calls, input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd,
            cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd,
            audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd,
            image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd, provider_cost_requests)
        SELECT organization_id, (hour AT TIME ZONE 'UTC')::date, model_id, sum(requests),
               sum(errors), sum(input_tokens), sum(output_tokens), sum(cost_usd),
               sum(cache_read_input_tokens), sum(cache_write_5m_input_tokens),
               sum(cache_write_1h_input_tokens), sum(reasoning_output_tokens),
               sum(audio_input_tokens), sum(audio_output_tokens), sum(image_input_tokens),
               sum(image_output_tokens), sum(web_search_calls), sum(tool_calls),
               sum(input_cost_usd), sum(cache_read_input_cost_usd),
               sum(cache_write_5m_input_cost_usd), sum(cache_write_1h_input_cost_usd),
               sum(output_cost_usd), sum(reasoning_output_cost_usd), sum(audio_input_cost_usd),
               sum(audio_output_cost_usd), sum(image_input_cost_usd), sum(image_output_cost_usd),
               sum(web_search_cost_usd), sum(tool_call_cost_usd), sum(provider_cost_requests)
        FROM hourly
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM insert_hourly), (SELECT count(*) FROM insert_daily);
END
$$;
ALTER FUNCTION app.rebuild_usage_rollups(uuid[], timestamptz[]) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.rebuild_usage_rollups(uuid[], timestamptz[]) FROM PUBLIC;
COMMENT ON FUNCTION app.rebuild_usage_rollups(uuid[], timestamptz[]) IS 'Rebuilds the usage_hourly rows of the (organization, UTC hour) groups p_organization_ids[i], p_hours[i] and the usage_daily rows of their days from app.usage_events (replace: a model with no event left loses its row). Locks app.usage_events SHARE ROW EXCLUSIVE until commit; refuses a day no partition holds. Owner and superusers only.';
