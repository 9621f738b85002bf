"""Warehouse load: copy usage events by whole UTC hours, and the dimensions, from the operational
database into the warehouse's `landing` schema (DuckDB or PostgreSQL).

    from dagster_project.lib.warehouse import load_hours, stale_hours, touched_hour_ranges
    report = load_hours(operational_url, warehouse_url, [(start, end)], pseudonym_key=k, load_id=i)

Modules: export (what may leave, from configs/data-classification.yml), load (the design and the
public functions), duck / pg (the two warehouse targets' fast paths). Heavy modules (ADBC,
DuckDB, Arrow) load on first use.
"""

from __future__ import annotations

from typing import Any

from dagster_project.lib.warehouse.errors import WarehouseError

__all__ = ["LoadReport", "WarehouseError", "load_hours", "stale_hours", "touched_hour_ranges"]
_LOAD = {"LoadReport", "load_hours", "stale_hours", "touched_hour_ranges"}


def __getattr__(name: str) -> Any:
    if name in _LOAD:
        from dagster_project.lib.warehouse import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
