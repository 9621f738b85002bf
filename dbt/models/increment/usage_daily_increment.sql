{#- The UTC days touched by this run's ranges (widened to whole days), aggregated from the events
    themselves: percentiles do not add up across hours. -#}
{{ config(pre_hook=["{{ warehouse_write_lock() }}"]) }}
{{ usage_rollup('day', 'day') }}
