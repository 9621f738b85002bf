{#- The exact (continuous, linearly interpolated) percentile `fraction` of `column` in a group,
    as a double. Both engines compute x[lo] + (x[hi] - x[lo]) * (h - lo) with h = fraction * (n - 1)
    in double precision: identical results (tests/integration/test_dbt_rollups.py). Measured:
    DuckDB's approx_quantile was 12% off on small groups, and slower. -#}
{% macro exact_percentile(column, fraction) -%}
    {{ return(adapter.dispatch('exact_percentile', 'platform_analytics')(column, fraction)) }}
{%- endmacro %}

{% macro duckdb__exact_percentile(column, fraction) -%}
    cast(quantile_cont(cast({{ column }} as double), {{ fraction }}) as double)
{%- endmacro %}

{% macro postgres__exact_percentile(column, fraction) -%}
    cast(percentile_cont({{ fraction }}) within group (order by {{ column }}) as double precision)
{%- endmacro %}
