{#- Published daily usage, grain day (UTC) × organization_id × model_id: the run's ranges
    widened to whole UTC days, from usage_daily_increment. Same pre-hooks as usage_hourly. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=([{'columns': ['day']}] if target.type == 'postgres' else []),
    pre_hook=[
        "{{ warehouse_write_lock() }}",
        "{{ assert_increment_build(ref('usage_daily_increment'), ref('rollup_build_daily')) }}",
        "{{ delete_rollup_ranges('day', 'day', 'date') }}",
    ],
) }}
-- depends_on: {{ ref('rollup_build_daily') }}
select *
from {{ ref('usage_daily_increment') }}
where {{ in_rollup_ranges('day', 'day', 'date') }}
