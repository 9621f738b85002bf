
with per_key as (
    select
        cast(date_trunc('month', cast(b.day as timestamp)) as date) as month,
        b.organization_id,
        b.api_key_id,
        cast(sum(b.requests) as bigint) as requests,
        cast(sum(b.failed_requests) as bigint) as failed_requests,
        cast(sum(b.input_tokens + b.output_tokens) as bigint) as total_tokens,
        cast(sum(b.cost_usd) as decimal(38, 10)) as cost_usd
    from "warehouse"."marts"."usage_daily_breakdown" as b
    where b.api_key_id is not null
    group by cast(date_trunc('month', cast(b.day as timestamp)) as date), b.organization_id, b.api_key_id
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
left join "warehouse"."staging"."stg_api_keys" as a on a.id = k.api_key_id