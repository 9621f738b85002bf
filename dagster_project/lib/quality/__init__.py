"""Data quality for the analytics warehouse: reconciliation and Great Expectations suites.

Plain Python (no Dagster), called by the blocking asset checks and by `platformctl`:

    from dagster_project.lib.quality.reconcile import reconcile_hours, reconcile_days
    from dagster_project.lib.quality.expectations import validate, expected_totals

Both validate the *increment* relations dbt built for this run (before publication), on either
warehouse engine (DuckDB file or PostgreSQL), against the operational database read as the
loader's role `platform_loader`. Nothing here reads the environment; URLs are passed in.
"""
