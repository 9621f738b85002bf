{#- The hours this run rebuilds (var rollup_ranges), aggregated whole from the landing events:
    what the blocking checks validate and usage_hourly then publishes. -#}
{{ config(pre_hook=["{{ warehouse_write_lock() }}"]) }}
select
    e.hour_start,
    e.organization_id,
    e.model_id,
    m.model,
    cast(count(*) as bigint) as requests,
    cast(sum(case when e.status = 'success' then 1 else 0 end) as bigint) as successful_requests,
    cast(sum(case when e.status = 'success' then 0 else 1 end) as bigint) as failed_requests,
    cast(sum(e.input_tokens) as bigint) as input_tokens,
    cast(sum(e.output_tokens) as bigint) as output_tokens,
    cast(sum(e.cost_usd) as decimal(38, 10)) as cost_usd,
    {{ exact_percentile('e.latency_ms', 0.5) }} as latency_ms_p50,
    {{ exact_percentile('e.latency_ms', 0.95) }} as latency_ms_p95,
    cast({{ _sql_text(var('build_id')) }} as varchar) as build_id
from {{ ref('stg_usage_events') }} as e
left join {{ ref('stg_models') }} as m on m.id = e.model_id
where {{ in_rollup_ranges('e.occurred_at', 'hour') }}
group by e.hour_start, e.organization_id, e.model_id, m.model
