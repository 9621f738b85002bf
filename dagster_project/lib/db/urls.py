"""What a warehouse URL means: its engine, and the environment a dbt subprocess needs to reach it.

The Dagster Warehouse resource and `platformctl` pass the URL in; nothing here reads the
environment. dbt/profiles.yml reads the variables `dbt_env` returns (DBT_TARGET, then
DBT_DUCKDB_PATH or DBT_PG_HOST/PORT/USER/PASSWORD/DBNAME), so dbt writes where the loader and
the checks read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from dagster_project.lib.db.postgres import database_name, is_postgres, normalize_url, redact
from dagster_project.lib.errors import PlatformError

Engine = Literal["duckdb", "postgres"]
ENGINES: tuple[Engine, ...] = ("duckdb", "postgres")
DEFAULT_WAREHOUSE_URL = "duckdb:///.data/warehouse.duckdb"


class WarehouseURLError(PlatformError, ValueError):
    """The warehouse URL or the dbt target is unusable, or they disagree."""


def engine(url: str) -> Engine:
    """duckdb:///path -> duckdb, postgresql://... -> postgres; anything else is one clear error."""
    if url.startswith("duckdb:///"):
        return "duckdb"
    if is_postgres(url):
        return "postgres"
    raise WarehouseURLError(
        f"WAREHOUSE_URL {redact(url)!r} is neither duckdb:///path nor postgresql://..."
    )


def dbt_target(url: str, explicit: str | None = None) -> Engine:
    """The dbt target for `url`: `explicit` (DBT_TARGET) when given, which must name the URL's
    engine; else the engine itself."""
    kind = engine(url)
    if not explicit:
        return kind
    if explicit not in ENGINES:
        raise WarehouseURLError(
            f"DBT_TARGET={explicit!r} is not a dbt target (use {' or '.join(ENGINES)})"
        )
    if explicit != kind:
        raise WarehouseURLError(
            f"DBT_TARGET={explicit} but WAREHOUSE_URL {redact(url)} is a {kind} URL: "
            f"set DBT_TARGET={kind}, or leave it unset to follow the URL"
        )
    return explicit


def duckdb_path(url: str) -> Path:
    """The absolute path of a duckdb:/// URL's file (relative paths are from the project root)."""
    from dagster_project.lib.migrations.drivers.duckdb import duckdb_path as driver_path

    if engine(url) != "duckdb":
        raise WarehouseURLError(f"not a DuckDB warehouse: {redact(url)}")
    return driver_path(url).resolve()


def dbt_env(url: str, target: str | None = None) -> dict[str, str]:
    """Environment variables that point dbt/profiles.yml at the warehouse `url`."""
    kind = dbt_target(url, target)
    if kind == "duckdb":
        return {"DBT_TARGET": kind, "DBT_DUCKDB_PATH": str(duckdb_path(url))}
    parts = urlsplit(normalize_url(url))
    return {
        "DBT_TARGET": kind,
        "DBT_PG_HOST": parts.hostname or "127.0.0.1",
        "DBT_PG_PORT": str(parts.port or 5432),
        "DBT_PG_USER": unquote(parts.username or "postgres"),
        "DBT_PG_PASSWORD": unquote(parts.password or ""),
        "DBT_PG_DBNAME": database_name(url),
    }
