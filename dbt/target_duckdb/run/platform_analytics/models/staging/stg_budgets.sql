
  
  create view "warehouse"."staging"."stg_budgets__dbt_tmp" as (
    select
    id,
    organization_id,
    model_id,
    period,
    token_limit,
    cost_limit_usd,
    soft_threshold,
    hard_threshold,
    created_at
from "warehouse"."landing"."budgets"
  );
