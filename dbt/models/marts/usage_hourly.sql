{#- Published hourly usage, grain hour_start (UTC) × organization_id × model_id. Published only after the blocking checks passed on usage_hourly_increment. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=([{'columns': ['hour_start']}] if target.type == 'postgres' else []),
    pre_hook=[
        "{{ warehouse_write_lock() }}",
        "{{ assert_increment_build(ref('usage_hourly_increment'), ref('rollup_build')) }}",
        "{{ delete_rollup_ranges('hour_start', 'hour', 'timestamp') }}",
    ],
) }}
-- depends_on: {{ ref('rollup_build') }}
select *
from {{ ref('usage_hourly_increment') }}
where {{ in_rollup_ranges('hour_start', 'hour', 'timestamp') }}
