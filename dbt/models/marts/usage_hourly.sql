{#- Published hourly usage, grain hour_start (UTC) × organization_id × model_id: the run's hour
    ranges of usage_hourly_increment, after the blocking checks passed on it. The pre-hooks
    (macros/publish.sql) lock, check the increment's build and delete the ranges; the append then
    inserts them, all in one transaction. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=([{'columns': ['hour_start']}] if target.type == 'postgres' else []),
    pre_hook=[
        "{{ warehouse_write_lock() }}",
        "{{ assert_increment_build(ref('usage_hourly_increment'), ref('rollup_build_hourly')) }}",
        "{{ delete_rollup_ranges('hour_start', 'hour', 'timestamp') }}",
    ],
) }}
-- depends_on: {{ ref('rollup_build_hourly') }}
select *
from {{ ref('usage_hourly_increment') }}
where {{ in_rollup_ranges('hour_start', 'hour', 'timestamp') }}
