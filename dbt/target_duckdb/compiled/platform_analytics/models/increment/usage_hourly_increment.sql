
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
    cast(quantile_cont(cast(e.latency_ms as double), 0.5) as double) as latency_ms_p50,
    cast(quantile_cont(cast(e.latency_ms as double), 0.95) as double) as latency_ms_p95,
    cast('x' as varchar) as build_id
from "warehouse"."staging"."stg_usage_events" as e
left join "warehouse"."staging"."stg_models" as m on m.id = e.model_id
where ((e.occurred_at >= cast('2026-12-01 00:00:00+00:00' as timestamp with time zone) and e.occurred_at < cast('2026-12-01 04:00:00+00:00' as timestamp with time zone)))
group by e.hour_start, e.organization_id, e.model_id, m.model