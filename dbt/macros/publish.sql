{#- Pre-hooks of the increment and mart models. dbt runs a pre-hook inside the model's
    transaction (the default, `transaction: true`): lock, assertion, delete and the appended
    SELECT commit together or not at all (tests/integration/test_dbt_rollups.py checks the
    statement order in dbt's debug log on both adapters). -#}

{#- Writers of the warehouse are serialised by one transaction-scoped advisory lock; the loader
    (lib/warehouse) takes the same literal key. Measured without it: two overlapping runs
    produced duplicates (3 of 3 tries) or a deadlock. DuckDB: one process holds the file, no-op. -#}
{% macro warehouse_write_lock() -%}
    {{ return(adapter.dispatch('warehouse_write_lock', 'platform_analytics')()) }}
{%- endmacro %}

{% macro default__warehouse_write_lock() -%}
{%- endmacro %}

{% macro postgres__warehouse_write_lock() -%}
    select pg_advisory_xact_lock(7346001)
{%- endmacro %}

{% macro _sql_text(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}

{#- Fails the model unless the increment it publishes was built by this run (var build_id) for
    these ranges: the build marker says so, and no row of `increment` carries another build_id.
    Guards against publishing a stale or concurrent run's increment. -#}
{% macro assert_increment_build(increment, marker) -%}
    {{ return(adapter.dispatch('assert_increment_build', 'platform_analytics')(increment, marker)) }}
{%- endmacro %}

{% macro duckdb__assert_increment_build(increment, marker) -%}
    {%- set build_id = var('build_id') | string -%}
    {%- set ranges = rollup_ranges_text() -%}
    select case
        when not exists (
            select 1 from {{ marker }}
            where build_id = {{ _sql_text(build_id) }} and rollup_ranges = {{ _sql_text(ranges) }}
        ) then error({{ _sql_text(this ~ ": refusing to publish: " ~ marker ~ " was not built by this run (build_id " ~ build_id ~ ", rollup_ranges " ~ ranges ~ "); build the increment models in the same run first") }})
        when exists (select 1 from {{ increment }} where build_id <> {{ _sql_text(build_id) }})
        then error({{ _sql_text(this ~ ": refusing to publish: " ~ increment ~ " holds rows of build ") }}
            || (select min(build_id) from {{ increment }} where build_id <> {{ _sql_text(build_id) }})
            || {{ _sql_text(", not of this run (" ~ build_id ~ ")") }})
    end as increment_build_check
{%- endmacro %}

{% macro postgres__assert_increment_build(increment, marker) -%}
    {%- set build_id = var('build_id') | string -%}
    {%- set ranges = rollup_ranges_text() -%}
do $assert_increment_build$
declare
    other_build text;
begin
    if not exists (
        select 1 from {{ marker }}
        where build_id = {{ _sql_text(build_id) }} and rollup_ranges = {{ _sql_text(ranges) }}
    ) then
        raise exception using message = {{ _sql_text(this ~ ": refusing to publish: " ~ marker ~ " was not built by this run (build_id " ~ build_id ~ ", rollup_ranges " ~ ranges ~ "); build the increment models in the same run first") }};
    end if;
    select build_id into other_build from {{ increment }} where build_id <> {{ _sql_text(build_id) }} limit 1;
    if found then
        raise exception using message = {{ _sql_text(this ~ ": refusing to publish: " ~ increment ~ " holds rows of build ") }}
            || other_build || {{ _sql_text(", not of this run (" ~ build_id ~ ")") }};
    end if;
end
$assert_increment_build$
{%- endmacro %}

{#- Deletes the run's ranges from the published mart (nothing on its first build, when the table
    does not exist yet). The model then appends the increment's rows of the same ranges: whole
    hours/days are replaced, so a group that vanished from an hour vanishes from the mart. -#}
{% macro delete_rollup_ranges(column, grain='hour', column_type='timestamp') -%}
    {%- if execute and should_full_refresh() and rollup_ranges() | length > 0 -%}
        {{ exceptions.raise_compiler_error(this ~ ": --full-refresh recreates the mart from the increment, which holds only the rollup_ranges: run it with no rollup_ranges (every hour)") }}
    {%- endif -%}
    {%- if execute and load_relation(this) is not none -%}
        delete from {{ this }} where {{ in_rollup_ranges(column, grain, column_type) }}
    {%- endif -%}
{%- endmacro %}
