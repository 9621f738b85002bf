{#- The usage aggregate of the hourly and daily increments, at the grain `period` (a column of
    stg_usage_events: hour_start or day) over the events of this run's ranges (`range_grain`:
    hour, or day = widened to whole UTC days). One definition, so the two grains cannot drift
    apart; percentiles are computed from the events at each grain (they do not add up).
    The grain stays period × organization × model, as app.usage_hourly's (which reconciliation
    compares it with): events of every service tier are summed; the token categories' counts and
    costs, computed_cost_usd and provider_cost_requests follow cost_usd (macros/categories.sql). -#}
{% macro usage_rollup(period, range_grain) -%}
select
    e.{{ period }},
    e.organization_id,
    e.model_id,
    m.model,
    cast(count(*) as bigint) as requests,
    cast(sum(case when e.status = 'success' then 1 else 0 end) as bigint) as successful_requests,
    cast(sum(case when e.status = 'success' then 0 else 1 end) as bigint) as failed_requests,
    cast(sum(e.input_tokens) as bigint) as input_tokens,
    cast(sum(e.output_tokens) as bigint) as output_tokens,
    cast(sum(e.cost_usd) as decimal(38, 10)) as cost_usd,
    {{ category_rollup_columns('e') }},
    {{ exact_percentile('e.latency_ms', 0.5) }} as latency_ms_p50,
    {{ exact_percentile('e.latency_ms', 0.95) }} as latency_ms_p95,
    cast({{ _sql_text(var('build_id')) }} as varchar) as build_id
from {{ ref('stg_usage_events') }} as e
left join {{ ref('stg_models') }} as m on m.id = e.model_id
where {{ in_rollup_ranges('e.occurred_at', range_grain) }}
group by e.{{ period }}, e.organization_id, e.model_id, m.model
{%- endmacro %}

{#- The config of a published daily mart: append the increment's days after the pre-hooks
    (lock, build check against the daily marker, delete of the run's days) in one transaction. -#}
{% macro daily_mart_config(increment) -%}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=([{'columns': ['day']}, {'columns': ['organization_id', 'day']}] if target.type == 'postgres' else []),
    pre_hook=[
        "{{ warehouse_write_lock() }}",
        "{{ assert_increment_build(ref('" ~ increment ~ "'), ref('rollup_build_daily')) }}",
        "{{ delete_rollup_ranges('day', 'day', 'date') }}",
    ],
) }}
{%- endmacro %}

{#- The config of an analyst relation that is an aggregate of the daily marts (usage_by_org_day,
    cost_by_model_month, top_keys, budget_usage): a table, its rows replaced whole by every daily
    publication in one transaction (delete, then append). Views aggregating a year of usage_daily
    at query time measured 70-800 ms p95 on PostgreSQL; these tables answer in milliseconds
    (docs/performance.md, "Rollups"). Not dbt's `table` materialization: its rename swap drops
    dependent views (budget_consumption over budget_usage) until they are rebuilt. -#}
{% macro analyst_table_config(indexes) -%}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=(indexes if target.type == 'postgres' else []),
    pre_hook=["{{ warehouse_write_lock() }}", "{{ delete_all_rows() }}"],
) }}
{%- endmacro %}

{% macro delete_all_rows() -%}
    {%- if execute and load_relation(this) is not none -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}
