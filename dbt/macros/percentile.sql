{#- The exact (continuous, linearly interpolated) percentile `fraction` of `column` in a group,
    as a double, identical on both engines.

    DuckDB's quantile_cont and PostgreSQL's percentile_cont pick the same two neighbours but
    interpolate with different formulas (lo*(1-d) + hi*d vs lo + (hi-lo)*d): measured here, they
    differed in the last bit (~1e-12 ms; up to 7e-7 near 2^31 ms) for 532 of 6000 random groups.
    For integer input (whole milliseconds) and a fraction in whole percent, the exact result has
    at most two decimals (d is a multiple of 0.01): rounding both to two decimals
    (DECIMAL(18,2), then the nearest double) gives the exact percentile, bit for bit the same on
    both engines, for any int32 input. Measured too: DuckDB's approx_quantile was 12% off on
    small groups, and slower. -#}
{% macro exact_percentile(column, fraction) -%}
    {{ return(adapter.dispatch('exact_percentile', 'platform_analytics')(column, fraction)) }}
{%- endmacro %}

{% macro duckdb__exact_percentile(column, fraction) -%}
    cast(cast(quantile_cont(cast({{ column }} as double), {{ fraction }}) as decimal(18, 2)) as double)
{%- endmacro %}

{% macro postgres__exact_percentile(column, fraction) -%}
    cast(cast(percentile_cont({{ fraction }}) within group (order by {{ column }}) as numeric(18, 2)) as double precision)
{%- endmacro %}
