{#- One row: which run built the increment tables, for which ranges. The mart pre-hooks refuse to
    publish unless it is this run's (assert_increment_build). -#}
{{ config(pre_hook=["{{ warehouse_write_lock() }}"]) }}
select
    cast({{ _sql_text(var('build_id')) }} as varchar) as build_id,
    cast({{ _sql_text(rollup_ranges_text()) }} as varchar) as rollup_ranges,
    current_timestamp as built_at
