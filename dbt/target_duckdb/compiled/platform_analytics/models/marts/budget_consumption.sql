
with budgets as (
    select
        b.*,
        cast(b.created_at at time zone 'UTC' as date) as created_day
    from "warehouse"."staging"."stg_budgets" as b
),

usage_by_period as (
    select
        b.id as budget_id,
        case when b.period = 'day' then d.day else cast(date_trunc('month', cast(d.day as timestamp)) as date) end as period_start,
        cast(sum(d.input_tokens + d.output_tokens) as bigint) as tokens,
        cast(sum(d.cost_usd) as decimal(38, 10)) as cost_usd
    from budgets as b
    inner join "warehouse"."marts"."usage_daily" as d
        on d.organization_id = b.organization_id
        and (b.model_id is null or d.model_id = b.model_id)
    group by b.id, case when b.period = 'day' then d.day else cast(date_trunc('month', cast(d.day as timestamp)) as date) end
),

current_periods as (
    select
        b.id as budget_id,
        case when b.period = 'day' then cast(current_timestamp at time zone 'UTC' as date) else cast(date_trunc('month', cast(cast(current_timestamp at time zone 'UTC' as date) as timestamp)) as date) end as period_start
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
    period_start = case when period = 'day' then cast(current_timestamp at time zone 'UTC' as date) else cast(date_trunc('month', cast(cast(current_timestamp at time zone 'UTC' as date) as timestamp)) as date) end as is_current,
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