select
    occurred_at,
    received_at,
    {{ utc_hour('occurred_at') }} as hour_start,
    {{ utc_day('occurred_at') }} as day,
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
    cost_usd,
    {%- for count in new_category_counts() %}
    {{ count }},
    {%- endfor %}
    service_tier,
    price_id,
    cost_source,
    {%- for c in token_categories() %}
    {{ c['cost'] }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ source('landing', 'usage_events') }}
