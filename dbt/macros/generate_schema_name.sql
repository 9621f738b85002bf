{#- Custom schemas are used as they are (landing, staging, increment, marts), never prefixed with
    the target's schema: analysts and the migrations name `marts.usage_hourly`, on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
