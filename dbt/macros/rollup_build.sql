{#- The build marker of an increment: one row naming the run (var build_id) and the ranges
    (var rollup_ranges, canonical UTC text) the increment tables were built for. The marts'
    pre-hooks publish only when it matches their own run (assert_increment_build). One marker
    per grain: the hourly and the daily increments are built by different Dagster steps (and
    runs), each with its own ranges. -#}
{% macro rollup_build_marker() -%}
select
    cast({{ _sql_text(var('build_id')) }} as varchar) as build_id,
    cast({{ _sql_text(rollup_ranges_text()) }} as varchar) as rollup_ranges,
    current_timestamp as built_at
{%- endmacro %}
