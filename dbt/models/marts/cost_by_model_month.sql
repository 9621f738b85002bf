{#- Analyst relation: usage and cost per model and calendar month (UTC), all organizations
    together, with the count and cost of every token category (macros/categories.sql).
    A table rebuilt by every daily publication (macros/usage_rollup.sql, analyst_table_config). -#}
{{ analyst_table_config([{'columns': ['month']}]) }}
select
    {{ month_of('d.day') }} as month,
    d.model_id,
    d.model,
    cast(sum(d.requests) as bigint) as requests,
    cast(sum(d.failed_requests) as bigint) as failed_requests,
    cast(sum(d.input_tokens) as bigint) as input_tokens,
    cast(sum(d.output_tokens) as bigint) as output_tokens,
    cast(sum(d.cost_usd) as decimal(38, 10)) as cost_usd,
    {{ category_rollup_columns('d', source='rollup') }},
    count(distinct d.organization_id) as organizations
from {{ ref('usage_daily') }} as d
group by {{ month_of('d.day') }}, d.model_id, d.model
