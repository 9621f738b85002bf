{#- Analyst relation: API keys ranked by cost within their organization and calendar month (UTC).
    Requests made without a key are left out.
    A table rebuilt by every daily publication (macros/usage_rollup.sql, analyst_table_config). -#}
{{ analyst_table_config([{'columns': ['organization_id', 'month']}, {'columns': ['month']}]) }}
with per_key as (
    select
        {{ month_of('b.day') }} as month,
        b.organization_id,
        b.api_key_id,
        cast(sum(b.requests) as bigint) as requests,
        cast(sum(b.failed_requests) as bigint) as failed_requests,
        cast(sum(b.input_tokens + b.output_tokens) as bigint) as total_tokens,
        cast(sum(b.cost_usd) as decimal(38, 10)) as cost_usd
    from {{ ref('usage_daily_breakdown') }} as b
    where b.api_key_id is not null
    group by {{ month_of('b.day') }}, b.organization_id, b.api_key_id
)
select
    k.month,
    k.organization_id,
    k.api_key_id,
    a.name as key_name,
    a.key_prefix,
    k.requests,
    k.failed_requests,
    k.total_tokens,
    k.cost_usd,
    rank() over (partition by k.organization_id, k.month order by k.cost_usd desc) as cost_rank
from per_key as k
left join {{ ref('stg_api_keys') }} as a on a.id = k.api_key_id
