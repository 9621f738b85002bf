{#- Published daily usage per organization, model, API key, user and operation: the run's
    ranges widened to whole UTC days, from usage_daily_breakdown_increment. Same pre-hooks as
    usage_hourly. -#}
{{ daily_mart_config('usage_daily_breakdown_increment') }}
-- depends_on: {{ ref('rollup_build_daily') }}
select *
from {{ ref('usage_daily_breakdown_increment') }}
where {{ in_rollup_ranges('day', 'day', 'date') }}
