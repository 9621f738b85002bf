select
    occurred_at,
    received_at,
    (date_trunc('hour', occurred_at at time zone 'UTC') at time zone 'UTC') as hour_start,
    cast(occurred_at at time zone 'UTC' as date) as day,
    organization_id,
    user_id,
    api_key_id,
    model_id,
    event_id,
    operation,
    status,
    error_code,
    input_tokens,
    output_tokens,
    latency_ms,
    cost_usd
from "warehouse"."landing"."usage_events"