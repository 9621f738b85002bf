{#- Tokens and cost per budget and period (its UTC day or calendar month) with usage: the
    aggregate behind budget_consumption. A table rebuilt by every daily publication
    (macros/usage_rollup.sql, analyst_table_config). -#}
{{ analyst_table_config([{'columns': ['budget_id', 'period_start']}]) }}
select
    b.id as budget_id,
    case when b.period = 'day' then d.day else {{ month_of('d.day') }} end as period_start,
    cast(sum(d.input_tokens + d.output_tokens) as bigint) as tokens,
    cast(sum(d.cost_usd) as decimal(38, 10)) as cost_usd
from {{ ref('stg_budgets') }} as b
inner join {{ ref('usage_daily') }} as d
    on d.organization_id = b.organization_id
    and (b.model_id is null or d.model_id = b.model_id)
group by b.id, case when b.period = 'day' then d.day else {{ month_of('d.day') }} end
