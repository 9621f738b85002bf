{#- The billable token categories (docs/pricing.md), in the order of
    dagster_project/lib/pricing/categories.py CATEGORIES, which is their one definition:
    tests/unit/test_dbt_categories.py fails when this list drifts from it.
      count  the event's count column (tokens, or calls for web_search / tool_call)
      cost   the event's cost column for the category, DECIMAL(18,10) -#}
{% macro token_categories() -%}
    {{ return([
        {'key': 'input', 'count': 'input_tokens', 'cost': 'input_cost_usd'},
        {'key': 'cache_read_input', 'count': 'cache_read_input_tokens', 'cost': 'cache_read_input_cost_usd'},
        {'key': 'cache_write_5m_input', 'count': 'cache_write_5m_input_tokens', 'cost': 'cache_write_5m_input_cost_usd'},
        {'key': 'cache_write_1h_input', 'count': 'cache_write_1h_input_tokens', 'cost': 'cache_write_1h_input_cost_usd'},
        {'key': 'output', 'count': 'output_tokens', 'cost': 'output_cost_usd'},
        {'key': 'reasoning_output', 'count': 'reasoning_output_tokens', 'cost': 'reasoning_output_cost_usd'},
        {'key': 'audio_input', 'count': 'audio_input_tokens', 'cost': 'audio_input_cost_usd'},
        {'key': 'audio_output', 'count': 'audio_output_tokens', 'cost': 'audio_output_cost_usd'},
        {'key': 'image_input', 'count': 'image_input_tokens', 'cost': 'image_input_cost_usd'},
        {'key': 'image_output', 'count': 'image_output_tokens', 'cost': 'image_output_cost_usd'},
        {'key': 'web_search', 'count': 'web_search_calls', 'cost': 'web_search_cost_usd'},
        {'key': 'tool_call', 'count': 'tool_calls', 'cost': 'tool_call_cost_usd'},
    ]) }}
{%- endmacro %}

{#- The count columns envelope 1.1 added (every category but input and output, which the rollups
    already carried). -#}
{% macro new_category_counts() -%}
    {%- set out = [] -%}
    {%- for c in token_categories() if c['count'] not in ('input_tokens', 'output_tokens') -%}
        {%- do out.append(c['count']) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{#- The category columns of a rollup over `relation_alias`: each new count as BIGINT, each
    category cost as DECIMAL(38,10), computed_cost_usd (the sum of the category costs, exact) and
    provider_cost_requests. `source` = 'events' sums event rows (provider_cost_requests counts
    events whose cost_source is provider); 'rollup' sums rows of a rollup that already has the
    columns. Every expression is a sum of exact decimals: the same value on DuckDB and PostgreSQL. -#}
{% macro category_rollup_columns(alias, source='events') -%}
    {%- for count in new_category_counts() %}
    cast(sum({{ alias }}.{{ count }}) as bigint) as {{ count }},
    {%- endfor %}
    {%- for c in token_categories() %}
    cast(sum({{ alias }}.{{ c['cost'] }}) as decimal(38, 10)) as {{ c['cost'] }},
    {%- endfor %}
    {%- if source == 'events' %}
    cast(sum({% for c in token_categories() %}{% if not loop.first %} + {% endif %}{{ alias }}.{{ c['cost'] }}{% endfor %}) as decimal(38, 10)) as computed_cost_usd,
    cast(sum(case when {{ alias }}.cost_source = 'provider' then 1 else 0 end) as bigint) as provider_cost_requests
    {%- else %}
    cast(sum({{ alias }}.computed_cost_usd) as decimal(38, 10)) as computed_cost_usd,
    cast(sum({{ alias }}.provider_cost_requests) as bigint) as provider_cost_requests
    {%- endif %}
{%- endmacro %}
