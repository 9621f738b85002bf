"""One resource per external system, registered once under these keys:

- `operational_db`: the operational PostgreSQL ($DATABASE_URL).
- `warehouse`: the analytics warehouse ($WAREHOUSE_URL: a DuckDB file or a PostgreSQL database),
  the dbt target that follows it ($DBT_TARGET) and the pseudonymisation key
  ($WAREHOUSE_PSEUDONYM_KEY).
- `dbt`: the dbt CLI on dbt/, with the target $DBT_TARGET.

Values come from dg.EnvVar, resolved when a run starts, never at import. dg.EnvVar has no
default: an unset variable fails the run with Dagster's "You have attempted to fetch the
environment variable X which is not set". The committed defaults (configs/migrate.example.env)
are exported by the Makefile; tests pass their own. Stage resources that need a URL nest these
instances, so every stage reads the same configuration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from pydantic import Field

from dagster_project.lib.db import urls
from dagster_project.lib.rollup.dbt import DBT_PROJECT_DIR, dbt_executable


class OperationalDatabase(dg.ConfigurableResource):
    """The operational PostgreSQL database: the application's tables, ingestion, migrations."""

    url: str = Field(description="postgresql:// URL of the operational database (DATABASE_URL).")


class Warehouse(dg.ConfigurableResource):
    """The analytics warehouse and how dbt reaches it."""

    url: str = Field(
        description="duckdb:///path (relative to the project root) or postgresql://... "
        "(WAREHOUSE_URL)."
    )
    dbt_target: str = Field(
        default="",
        description="duckdb or postgres (DBT_TARGET); must name the URL's engine. Empty: the "
        "URL's engine.",
    )
    pseudonym_key: str = Field(
        default="",
        description="Key of the HMAC that pseudonymises confidential columns on their way into "
        "the warehouse (WAREHOUSE_PSEUDONYM_KEY).",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.engine  # noqa: B018 - a URL/target mismatch fails the run at its start, in one line

    @property
    def engine(self) -> urls.Engine:
        """duckdb or postgres; raises WarehouseURLError when DBT_TARGET disagrees."""
        return urls.dbt_target(self.url, self.dbt_target)

    @property
    def duckdb_path(self) -> Path:
        """The absolute path of the DuckDB file (a DuckDB warehouse only)."""
        return urls.duckdb_path(self.url)

    def dbt_env(self) -> dict[str, str]:
        """DBT_TARGET plus DBT_DUCKDB_PATH, or DBT_PG_HOST/PORT/USER/PASSWORD/DBNAME."""
        return urls.dbt_env(self.url, self.dbt_target)

    def dbt_target_path(self) -> Path:
        """dbt's --target-path for this target (relative to dbt/), where `make setup` parsed it."""
        return Path(f"target_{self.engine}")

    @contextmanager
    def dbt_environment(self) -> Iterator[None]:
        """Around `dbt.cli(...)`: DbtCliResource hands the process environment to dbt, so set
        dbt_env() there for the call and restore it afterwards."""
        env = self.dbt_env()
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


OPERATIONAL_DB = OperationalDatabase(url=dg.EnvVar("DATABASE_URL"))
WAREHOUSE = Warehouse(
    url=dg.EnvVar("WAREHOUSE_URL"),
    dbt_target=dg.EnvVar("DBT_TARGET"),
    pseudonym_key=dg.EnvVar("WAREHOUSE_PSEUDONYM_KEY"),
)


def dbt_cli() -> DbtCliResource:
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        target=dg.EnvVar("DBT_TARGET"),
        dbt_executable=dbt_executable(),
    )


@dg.definitions
def resources() -> dg.Definitions:
    shared: dict[str, dg.ConfigurableResource] = {
        "operational_db": OPERATIONAL_DB,
        "warehouse": WAREHOUSE,
    }
    # DbtCliResource checks that dbt/dbt_project.yml and dbt/profiles.yml exist when built: until
    # the dbt project is there, no `dbt` resource (and no dbt asset can load either).
    if (DBT_PROJECT_DIR / "dbt_project.yml").is_file():
        shared["dbt"] = dbt_cli()
    return dg.Definitions(resources=shared)
