{#- Published daily usage, grain day (UTC) × organization_id × model_id: the run's ranges
    widened to whole UTC days, from usage_daily_increment. Same pre-hooks as usage_hourly. -#}
{{ daily_mart_config('usage_daily_increment') }}
-- depends_on: {{ ref('rollup_build_daily') }}
select *
from {{ ref('usage_daily_increment') }}
where {{ in_rollup_ranges('day', 'day', 'date') }}
