insert into "warehouse"."marts"."usage_daily_breakdown" ("day", "organization_id", "model_id", "api_key_id", "user_id", "operation", "requests", "failed_requests", "input_tokens", "output_tokens", "cost_usd", "build_id")
    (
        select "day", "organization_id", "model_id", "api_key_id", "user_id", "operation", "requests", "failed_requests", "input_tokens", "output_tokens", "cost_usd", "build_id"
        from "usage_daily_breakdown__dbt_tmp20261204173435568071"
    )


  