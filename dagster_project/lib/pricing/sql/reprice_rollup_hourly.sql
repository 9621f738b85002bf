-- Recompute app.usage_hourly for the (organization, hour, model) groups that hold a re-costed event,
-- from the events (replace, not add: the trigger adds only on INSERT). As the admin role, like
-- the migrations (RLS: the rows belong to platform_owner). Groups in primary-key order, as the
-- trigger locks them. A group's events are all retained or all gone (daily partitions), and a
-- group with a re-costed event has events.
WITH groups AS (
    SELECT DISTINCT organization_id, date_bin('1 hour', occurred_at, '2000-01-01 00:00:00+00') AS hour
    FROM reprice_plan
    WHERE changed
), sums AS (
    SELECT g.organization_id, g.hour, e.model_id,
        count(*) AS requests,
        count(*) FILTER (WHERE e.status = 'error') AS errors,
        sum(e.input_tokens) AS input_tokens,
        sum(e.output_tokens) AS output_tokens,
        sum(e.cost_usd) AS cost_usd,
        sum(e.cache_read_input_tokens) AS cache_read_input_tokens,
        sum(e.cache_write_5m_input_tokens) AS cache_write_5m_input_tokens,
        sum(e.cache_write_1h_input_tokens) AS cache_write_1h_input_tokens,
        sum(e.reasoning_output_tokens) AS reasoning_output_tokens,
        sum(e.audio_input_tokens) AS audio_input_tokens,
        sum(e.audio_output_tokens) AS audio_output_tokens,
        sum(e.image_input_tokens) AS image_input_tokens,
        sum(e.image_output_tokens) AS image_output_tokens,
        sum(e.web_search_calls) AS web_search_calls,
        sum(e.tool_calls) AS tool_calls,
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
    FROM groups AS g
    JOIN app.usage_events AS e
      ON e.organization_id = g.organization_id AND e.model_id = %(model_id)s
     AND e.occurred_at >= g.hour AND e.occurred_at < g.hour + interval '1 hour'
    GROUP BY 1, 2, 3
)
INSERT INTO app.usage_hourly AS u (organization_id, hour, model_id, requests, errors, input_tokens, output_tokens, cost_usd, cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens, audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls, tool_calls, input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd, image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd, provider_cost_requests)
SELECT organization_id, hour, model_id, requests, errors, input_tokens, output_tokens, cost_usd, cache_read_input_tokens, cache_write_5m_input_tokens, cache_write_1h_input_tokens, reasoning_output_tokens, audio_input_tokens, audio_output_tokens, image_input_tokens, image_output_tokens, web_search_calls, tool_calls, input_cost_usd, cache_read_input_cost_usd, cache_write_5m_input_cost_usd, cache_write_1h_input_cost_usd, output_cost_usd, reasoning_output_cost_usd, audio_input_cost_usd, audio_output_cost_usd, image_input_cost_usd, image_output_cost_usd, web_search_cost_usd, tool_call_cost_usd, provider_cost_requests
FROM sums
ORDER BY 1, 2, 3
ON CONFLICT ON CONSTRAINT pk_usage_hourly DO UPDATE SET
        requests = excluded.requests,
        errors = excluded.errors,
        input_tokens = excluded.input_tokens,
        output_tokens = excluded.output_tokens,
        cost_usd = excluded.cost_usd,
        cache_read_input_tokens = excluded.cache_read_input_tokens,
        cache_write_5m_input_tokens = excluded.cache_write_5m_input_tokens,
        cache_write_1h_input_tokens = excluded.cache_write_1h_input_tokens,
        reasoning_output_tokens = excluded.reasoning_output_tokens,
        audio_input_tokens = excluded.audio_input_tokens,
        audio_output_tokens = excluded.audio_output_tokens,
        image_input_tokens = excluded.image_input_tokens,
        image_output_tokens = excluded.image_output_tokens,
        web_search_calls = excluded.web_search_calls,
        tool_calls = excluded.tool_calls,
        input_cost_usd = excluded.input_cost_usd,
        cache_read_input_cost_usd = excluded.cache_read_input_cost_usd,
        cache_write_5m_input_cost_usd = excluded.cache_write_5m_input_cost_usd,
        cache_write_1h_input_cost_usd = excluded.cache_write_1h_input_cost_usd,
        output_cost_usd = excluded.output_cost_usd,
        reasoning_output_cost_usd = excluded.reasoning_output_cost_usd,
        audio_input_cost_usd = excluded.audio_input_cost_usd,
        audio_output_cost_usd = excluded.audio_output_cost_usd,
        image_input_cost_usd = excluded.image_input_cost_usd,
        image_output_cost_usd = excluded.image_output_cost_usd,
        web_search_cost_usd = excluded.web_search_cost_usd,
        tool_call_cost_usd = excluded.tool_call_cost_usd,
        provider_cost_requests = excluded.provider_cost_requests
