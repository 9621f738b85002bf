{#- The build marker of the daily increments (macros/rollup_build.sql). -#}
{{ config(pre_hook=["{{ warehouse_write_lock() }}"]) }}
{{ rollup_build_marker() }}
