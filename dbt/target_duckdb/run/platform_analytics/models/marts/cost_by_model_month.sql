
  
  create view "warehouse"."marts"."cost_by_model_month__dbt_tmp" as (
    
select
    cast(date_trunc('month', cast(d.day as timestamp)) as date) as month,
    d.model_id,
    d.model,
    cast(sum(d.requests) as bigint) as requests,
    cast(sum(d.failed_requests) as bigint) as failed_requests,
    cast(sum(d.input_tokens) as bigint) as input_tokens,
    cast(sum(d.output_tokens) as bigint) as output_tokens,
    cast(sum(d.cost_usd) as decimal(38, 10)) as cost_usd,
    count(distinct d.organization_id) as organizations
from "warehouse"."marts"."usage_daily" as d
group by cast(date_trunc('month', cast(d.day as timestamp)) as date), d.model_id, d.model
  );
