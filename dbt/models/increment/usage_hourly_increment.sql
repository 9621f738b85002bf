{#- The hours this run rebuilds (var rollup_ranges), aggregated whole from the landing events:
    what the blocking checks validate and usage_hourly then publishes. -#}
{{ config(pre_hook=["{{ warehouse_write_lock() }}"]) }}
{{ usage_rollup('hour_start', 'hour') }}
