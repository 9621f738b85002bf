"""The shared resources' warehouse helpers: engine, dbt target agreement, the dbt environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dagster_project.defs.common.resources import Warehouse, dbt_executable
from dagster_project.lib.db import urls
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.paths import PROJECT_ROOT


def test_the_default_duckdb_url_is_a_file_under_the_project_root() -> None:
    warehouse = Warehouse(url=urls.DEFAULT_WAREHOUSE_URL)
    assert warehouse.engine == "duckdb"
    assert warehouse.duckdb_path == (PROJECT_ROOT / ".data" / "warehouse.duckdb").resolve()
    assert warehouse.dbt_env() == {
        "DBT_TARGET": "duckdb",
        "DBT_DUCKDB_PATH": str((PROJECT_ROOT / ".data" / "warehouse.duckdb").resolve()),
    }
    assert warehouse.dbt_target_path() == Path("target_duckdb")


def test_a_postgres_url_gives_the_dbt_connection_variables() -> None:
    url = "postgresql+psycopg2://an%40alyst:p%3Ass@db.example:6543/wh?sslmode=require"
    warehouse = Warehouse(url=url, dbt_target="postgres")
    assert warehouse.engine == "postgres"
    assert warehouse.dbt_env() == {
        "DBT_TARGET": "postgres",
        "DBT_PG_HOST": "db.example",
        "DBT_PG_PORT": "6543",
        "DBT_PG_USER": "an@alyst",
        "DBT_PG_PASSWORD": "p:ss",
        "DBT_PG_DBNAME": "wh",
    }
    with pytest.raises(urls.WarehouseURLError, match="not a DuckDB warehouse"):
        _ = warehouse.duckdb_path


@pytest.mark.parametrize(
    ("url", "target", "message"),
    [
        ("duckdb:///w.duckdb", "postgres", "DBT_TARGET=postgres but WAREHOUSE_URL duckdb:///"),
        ("postgresql://u:secret@h/db", "duckdb", "is a postgres URL: set DBT_TARGET=postgres"),
        ("duckdb:///w.duckdb", "snowflake", "DBT_TARGET='snowflake' is not a dbt target"),
        ("mysql://h/db", "", "is neither duckdb:///path nor postgresql://"),
    ],
)
def test_a_bad_url_or_target_is_one_clear_platform_error(url, target, message) -> None:
    with pytest.raises(PlatformError, match=message) as failure:
        _ = Warehouse(url=url, dbt_target=target).engine
    assert "\n" not in str(failure.value)
    assert "secret" not in str(failure.value)  # passwords are redacted


def test_dbt_environment_is_set_for_the_call_and_restored(monkeypatch) -> None:
    monkeypatch.setenv("DBT_TARGET", "before")
    monkeypatch.delenv("DBT_DUCKDB_PATH", raising=False)
    warehouse = Warehouse(url="duckdb:////tmp/x/w.duckdb", dbt_target="duckdb")
    with warehouse.dbt_environment():
        assert os.environ["DBT_TARGET"] == "duckdb"
        assert os.environ["DBT_DUCKDB_PATH"] == "/tmp/x/w.duckdb"
    assert os.environ["DBT_TARGET"] == "before"
    assert "DBT_DUCKDB_PATH" not in os.environ


def test_dbt_is_the_venvs() -> None:
    assert Path(dbt_executable()).is_file()
    assert Path(dbt_executable()).parent == Path(sys.executable).parent
