{#- The build marker of the hourly increments (macros/rollup_build.sql). -#}
{{ config(pre_hook=["{{ warehouse_write_lock() }}"]) }}
{{ rollup_build_marker() }}
