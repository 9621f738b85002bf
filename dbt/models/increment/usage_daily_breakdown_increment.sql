{#- Per UTC day, organization, model, API key, user and operation, for the days touched by this
    run's ranges (widened to whole days). api_key_id and user_id may be NULL. -#}
{{ config(pre_hook=["{{ warehouse_write_lock() }}"]) }}
select
    e.day,
    e.organization_id,
    e.model_id,
    e.api_key_id,
    e.user_id,
    e.operation,
    cast(count(*) as bigint) as requests,
    cast(sum(case when e.status = 'success' then 0 else 1 end) as bigint) as failed_requests,
    cast(sum(e.input_tokens) as bigint) as input_tokens,
    cast(sum(e.output_tokens) as bigint) as output_tokens,
    cast(sum(e.cost_usd) as decimal(38, 10)) as cost_usd,
    cast({{ _sql_text(var('build_id')) }} as varchar) as build_id
from {{ ref('stg_usage_events') }} as e
where {{ in_rollup_ranges('e.occurred_at', 'day') }}
group by e.day, e.organization_id, e.model_id, e.api_key_id, e.user_id, e.operation
