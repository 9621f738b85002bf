"""Warehouse rollups: the windows of UTC hours a run rebuilds, the dbt invocation that rebuilds
them, and the DuckDB snapshot analysts read. Plain Python; Dagster and the CLI both call it."""
