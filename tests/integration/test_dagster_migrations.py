"""The migration assets, their health check and `migrate_job`, run the way operators run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest

from dagster_project.defs.common.resources import OperationalDatabase, Warehouse
from dagster_project.defs.migrations.assets import schema_assets
from dagster_project.defs.migrations.checks import health_checks
from dagster_project.defs.migrations.resources import MigrationsResource

DAGSTER = str(Path(sys.executable).with_name("dagster"))


@pytest.fixture
def dagster_env(tmp_path: Path, fresh_db_url: str) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATABASE_URL": fresh_db_url,
        "WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "DBT_TARGET": "duckdb",
        "WAREHOUSE_PSEUDONYM_KEY": "test-only-key",
        "MIGRATE_ACTOR": "",
    }


def test_dagster_job_execute_runs_migrate_job(dagster_env: dict[str, str], tmp_path: Path):
    result = subprocess.run(
        [DAGSTER, "job", "execute", "-m", "dagster_project", "-j", "migrate_job"],
        # Not the project root: Dagster's CLI loads a .env from the working directory *over*
        # the exported variables (measured, dagster 1.13), so a developer's .env would
        # redirect this run to their own database.
        cwd=tmp_path,
        env=dagster_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stdout + result.stderr
    with psycopg.connect(dagster_env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT to_regclass('platform_meta.schema_migrations')").fetchone()[0]
        actors = conn.execute(
            "SELECT DISTINCT applied_by FROM platform_meta.schema_migrations"
        ).fetchall()
    assert all(actor.startswith("dagster:") for (actor,) in actors)
    warehouse = duckdb.connect(dagster_env["WAREHOUSE_URL"].removeprefix("duckdb:///"))
    with warehouse:  # the analytics target went to the warehouse the environment names
        assert warehouse.execute("SELECT count(*) FROM platform_meta.schema_migrations").fetchone()[
            0
        ]


@pytest.mark.parametrize("unset", ["DATABASE_URL", "WAREHOUSE_URL", "DBT_TARGET"])
def test_an_unset_variable_fails_the_run_naming_it(unset: str, monkeypatch, tmp_path: Path):
    from dagster_project.definitions import defs

    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/never_used")
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'w.duckdb'}")
    monkeypatch.setenv("DBT_TARGET", "duckdb")
    monkeypatch.setenv("WAREHOUSE_PSEUDONYM_KEY", "test-only-key")
    monkeypatch.delenv(unset)
    job = defs().resolve_job_def("migrate_job")
    with pytest.raises(dg.DagsterInvalidConfigError) as failure:
        job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert f'environment variable "{unset}" which is not set' in str(failure.value)
    assert not (tmp_path / "w.duckdb").exists()  # nothing ran


def test_a_dbt_target_that_contradicts_the_url_fails_in_one_line(fresh_db_url, tmp_path: Path):
    resource = MigrationsResource(
        operational_db=OperationalDatabase(url=fresh_db_url),
        warehouse=Warehouse(url=f"duckdb:///{tmp_path / 'w.duckdb'}", dbt_target="postgres"),
    )
    result = _materialize(resource)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_failure)
    assert "DBT_TARGET=postgres but WAREHOUSE_URL" in str(failure.event_specific_data.error)


def _resource(config: Path, db_url: str, tmp_path: Path) -> MigrationsResource:
    return MigrationsResource(
        config_path=str(config),
        operational_db=OperationalDatabase(url=db_url),
        warehouse=Warehouse(url=f"duckdb:///{tmp_path / 'w.duckdb'}"),
    )


def _materialize(resource: MigrationsResource) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*schema_assets, *health_checks], resources={"migrations": resource}, raise_on_error=False
    )


def test_check_fails_on_dirty_state(write_migrate_config, fresh_db_url: str, tmp_path: Path):
    config = write_migrate_config("basic", fresh_db_url)
    empty = tmp_path / "no_analytics_migrations"
    empty.mkdir()
    text = config.read_text().replace(
        "targets:\n",
        f"targets:\n  analytics:\n    directory: {empty}\n"
        f"    url_env: PLATFORM_TEST_UNUSED_URL\n"
        f"    default_url: duckdb:///{tmp_path / 'never_used.duckdb'}\n",
        1,
    )
    config.write_text(text)
    resource = _resource(config, fresh_db_url, tmp_path)

    first = _materialize(resource)
    assert first.success
    materialization = first.asset_materializations_for_node("operational_schema")[0]
    assert materialization.metadata["version"].value == "202601010200"
    assert materialization.metadata["applied_count"].value == 3
    assert all(e.passed for e in first.get_asset_check_evaluations())
    # The URLs are the resources', not the migrate config's defaults.
    assert (tmp_path / "w.duckdb").exists() and not (tmp_path / "never_used.duckdb").exists()

    with psycopg.connect(fresh_db_url) as conn:
        conn.execute(
            "UPDATE platform_meta.schema_migrations SET dirty = true WHERE version = '202601010200'"
        )
    refused = _materialize(resource)
    assert not refused.success  # the asset itself refuses to migrate a dirty database
    checks_only = dg.materialize(
        [*schema_assets, *health_checks],
        resources={"migrations": resource},
        selection=dg.AssetSelection.all_asset_checks(),
        raise_on_error=False,
    )
    failing = [e for e in checks_only.get_asset_check_evaluations() if not e.passed]
    assert [e.asset_key for e in failing] == [dg.AssetKey("operational_schema")]
    assert failing[0].metadata["dirty"].value == ["202601010200_create_notes"]


def test_check_fails_on_checksum_drift(write_migrate_config, fresh_db_url: str, tmp_path: Path):
    config = write_migrate_config("alter", fresh_db_url)
    resource = _resource(config, fresh_db_url, tmp_path)
    runner = resource.runner("operational")
    runner.up()
    edited = runner.target.directory / "202601010000_create_ledger.up.sql"
    edited.write_text(edited.read_text() + "-- edited after apply\n")
    check = next(
        c
        for c in health_checks
        if dg.AssetKey("operational_schema") in {k.asset_key for k in c.check_keys}
    )
    result = dg.materialize(
        [*schema_assets, check],
        resources={"migrations": resource},
        selection=dg.AssetSelection.checks(check),
        raise_on_error=False,
    )
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert "202601010000_create_ledger.up.sql" in str(evaluation.metadata["problems"].value)


def test_check_fails_in_one_line_when_the_database_is_missing(
    write_migrate_config, fresh_db_url: str, tmp_path: Path
):
    """Issue 9 §2: a missing database is not an empty target, in Dagster either."""
    missing = fresh_db_url + "_missing"
    resource = _resource(write_migrate_config("basic", missing), missing, tmp_path)
    check = next(
        c
        for c in health_checks
        if dg.AssetKey("operational_schema") in {k.asset_key for k in c.check_keys}
    )
    result = dg.materialize(
        [*schema_assets, check],
        resources={"migrations": resource},
        selection=dg.AssetSelection.checks(check),
        raise_on_error=False,
    )
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.metadata["exit_code"].value == 3
    assert "does not exist" in evaluation.metadata["error"].value
