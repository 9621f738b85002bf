{#- Analyst relation: usage per organization and UTC day, all models together.
    A table rebuilt by every daily publication (macros/usage_rollup.sql, analyst_table_config). -#}
{{ analyst_table_config([{'columns': ['organization_id', 'day']}, {'columns': ['day']}]) }}
select
    d.day,
    d.organization_id,
    o.slug as organization_slug,
    cast(sum(d.requests) as bigint) as requests,
    cast(sum(d.successful_requests) as bigint) as successful_requests,
    cast(sum(d.failed_requests) as bigint) as failed_requests,
    cast(sum(d.failed_requests) as double precision) / sum(d.requests) as error_rate,
    cast(sum(d.input_tokens) as bigint) as input_tokens,
    cast(sum(d.output_tokens) as bigint) as output_tokens,
    cast(sum(d.input_tokens + d.output_tokens) as bigint) as total_tokens,
    cast(sum(d.cost_usd) as decimal(38, 10)) as cost_usd,
    count(*) as models_used
from {{ ref('usage_daily') }} as d
left join {{ ref('stg_organizations') }} as o on o.id = d.organization_id
group by d.day, d.organization_id, o.slug
