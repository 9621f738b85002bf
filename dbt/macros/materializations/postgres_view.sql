{#- Views on PostgreSQL are replaced in place (CREATE OR REPLACE VIEW), not renamed away and
    dropped: dbt-postgres's own view materialization ends with `drop view <backup> cascade`, and
    measured here, rebuilding `staging` alone dropped the analyst views in `marts` that read it
    (until a later run rebuilt them, or never, when a blocking check stopped the run first).
    In place, dependants and grants stay. CREATE OR REPLACE cannot drop, rename or retype a
    column: after such a change run the view with --full-refresh (which drops it, cascading,
    first) and select its dependants too (`--select stg_x+`). DuckDB views bind by name and are
    never dropped by their dependencies: dbt-duckdb's materialization is kept there. -#}
{% materialization view, adapter='postgres' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set grant_config = config.get('grants') -%}
    {%- set full_refresh_mode = should_full_refresh() -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing_relation is not none and (full_refresh_mode or not existing_relation.is_view) -%}
        {{ adapter.drop_relation(existing_relation) }}
    {%- endif -%}

    {% call statement('main') -%}
        create or replace view {{ target_relation }} as (
            {{ compiled_code }}
        );
    {%- endcall %}

    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
    {% do persist_docs(target_relation, model) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
