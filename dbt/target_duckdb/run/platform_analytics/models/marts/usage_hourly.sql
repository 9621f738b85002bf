insert into "warehouse"."marts"."usage_hourly" ("hour_start", "organization_id", "model_id", "model", "requests", "successful_requests", "failed_requests", "input_tokens", "output_tokens", "cost_usd", "latency_ms_p50", "latency_ms_p95", "build_id")
    (
        select "hour_start", "organization_id", "model_id", "model", "requests", "successful_requests", "failed_requests", "input_tokens", "output_tokens", "cost_usd", "latency_ms_p50", "latency_ms_p95", "build_id"
        from "usage_hourly__dbt_tmp20261204173435678590"
    )


  