
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
    cast('x' as varchar) as build_id
from "warehouse"."staging"."stg_usage_events" as e
where ((e.occurred_at >= cast('2026-12-01 00:00:00+00:00' as timestamp with time zone) and e.occurred_at < cast('2026-12-02 00:00:00+00:00' as timestamp with time zone)))
group by e.day, e.organization_id, e.model_id, e.api_key_id, e.user_id, e.operation