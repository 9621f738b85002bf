{#- UTC buckets of a TIMESTAMPTZ column, whatever the session time zone:
    `col at time zone 'UTC'` is the UTC wall-clock time (a plain timestamp) on both engines. -#}

{#- The start of the UTC hour, as a TIMESTAMPTZ. -#}
{% macro utc_hour(column) -%}
    {{ return(adapter.dispatch('utc_hour', 'platform_analytics')(column)) }}
{%- endmacro %}

{% macro default__utc_hour(column) -%}
    (date_trunc('hour', {{ column }} at time zone 'UTC') at time zone 'UTC')
{%- endmacro %}

{#- The UTC calendar day, as a DATE. -#}
{% macro utc_day(column) -%}
    {{ return(adapter.dispatch('utc_day', 'platform_analytics')(column)) }}
{%- endmacro %}

{% macro default__utc_day(column) -%}
    cast({{ column }} at time zone 'UTC' as date)
{%- endmacro %}

{#- The first day of the month of a DATE, as a DATE (through a plain timestamp: no time zone). -#}
{% macro month_of(day_column) -%}
    cast(date_trunc('month', cast({{ day_column }} as timestamp)) as date)
{%- endmacro %}

{#- Today's UTC date. -#}
{% macro utc_today() -%}
    cast(current_timestamp at time zone 'UTC' as date)
{%- endmacro %}
