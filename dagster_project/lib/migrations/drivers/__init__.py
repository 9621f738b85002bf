"""Pick a driver from a URL's scheme: postgresql:// -> PostgreSQL, duckdb:/// -> DuckDB."""

from __future__ import annotations

from dagster_project.lib.db.postgres import is_conninfo, redact
from dagster_project.lib.migrations.config import Settings
from dagster_project.lib.migrations.drivers.base import Driver
from dagster_project.lib.migrations.errors import ConfigError

POSTGRES_SCHEMES = (
    "postgresql://",
    "postgres://",
    "postgresql+psycopg2://",
    "postgresql+psycopg://",
)


def open_driver(
    url: str, settings: Settings | None = None, *, create_database: bool = True
) -> Driver:
    if url.startswith(POSTGRES_SCHEMES) or is_conninfo(url):
        from dagster_project.lib.migrations.drivers.postgres import PostgresDriver

        return PostgresDriver(url, settings=settings, create_database=create_database)
    if url.startswith("duckdb:///"):
        from dagster_project.lib.migrations.drivers.duckdb import DuckDBDriver

        return DuckDBDriver(url, settings=settings, create_database=create_database)
    raise ConfigError(
        f"unsupported database URL {redact(url)} "
        "(use postgresql://..., host=... dbname=..., or duckdb:///path)"
    )
