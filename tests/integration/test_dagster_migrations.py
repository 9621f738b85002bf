"""The migration assets, their health check and `migrate_job`, run the way operators run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest

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
        "MIGRATE_ACTOR": "",
    }


def test_dagster_job_execute_runs_migrate_job(dagster_env: dict[str, str], project_root: Path):
    result = subprocess.run(
        [DAGSTER, "job", "execute", "-m", "dagster_project", "-j", "migrate_job"],
        cwd=project_root,
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
        f"    default_url: duckdb:///{tmp_path / 'w.duckdb'}\n",
        1,
    )
    config.write_text(text)
    resource = MigrationsResource(config_path=str(config))

    first = _materialize(resource)
    assert first.success
    materialization = first.asset_materializations_for_node("operational_schema")[0]
    assert materialization.metadata["version"].value == "202601010200"
    assert materialization.metadata["applied_count"].value == 3
    assert all(e.passed for e in first.get_asset_check_evaluations())

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
    resource = MigrationsResource(config_path=str(config))
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
