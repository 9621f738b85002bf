{#- Analyst view: every budget per period (its UTC day or calendar month), consumption against the
    limits. Periods with usage, plus the current one, from the budget's creation on. Tokens =
    input + output, as the application's budget check counts them. The flags compare exactly
    (decimals): consumption >= limit × threshold. A view over the table budget_usage: the current
    period (and is_current) follow today's date at query time. -#}
{{ config(materialized='view') }}
with budgets as (
    select
        b.*,
        cast(b.created_at at time zone 'UTC' as date) as created_day
    from {{ ref('stg_budgets') }} as b
),

usage_by_period as (
    select budget_id, period_start, tokens, cost_usd from {{ ref('budget_usage') }}
),

current_periods as (
    select
        b.id as budget_id,
        case when b.period = 'day' then {{ utc_today() }} else {{ month_of(utc_today()) }} end as period_start
    from budgets as b
),

periods as (
    select budget_id, period_start from usage_by_period
    union
    select budget_id, period_start from current_periods
),

consumption as (
    select
        b.id as budget_id,
        b.organization_id,
        b.model_id,
        b.period,
        p.period_start,
        case
            when b.period = 'day' then cast(p.period_start + interval '1 day' as date)
            else cast(p.period_start + interval '1 month' as date)
        end as period_end,
        coalesce(u.tokens, 0) as tokens,
        coalesce(u.cost_usd, cast(0 as decimal(38, 10))) as cost_usd,
        b.token_limit,
        b.cost_limit_usd,
        b.soft_threshold,
        b.hard_threshold,
        b.created_day
    from budgets as b
    inner join periods as p on p.budget_id = b.id
    left join usage_by_period as u on u.budget_id = p.budget_id and u.period_start = p.period_start
)

select
    budget_id,
    organization_id,
    model_id,
    period,
    period_start,
    period_end,
    period_start = case when period = 'day' then {{ utc_today() }} else {{ month_of(utc_today()) }} end as is_current,
    tokens,
    cost_usd,
    token_limit,
    cost_limit_usd,
    cast(tokens as double precision) / token_limit as token_share,
    cast(cost_usd as double precision) / cast(cost_limit_usd as double precision) as cost_share,
    soft_threshold,
    hard_threshold,
    (token_limit is not null and tokens >= token_limit * soft_threshold)
        or (cost_limit_usd is not null and cost_usd >= cost_limit_usd * soft_threshold) as soft_reached,
    (token_limit is not null and tokens >= token_limit * hard_threshold)
        or (cost_limit_usd is not null and cost_usd >= cost_limit_usd * hard_threshold) as hard_reached
from consumption
where period_end > created_day
