"""The same engine drives the DuckDB warehouse through its driver."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.cycle import smoke
from dagster_project.lib.migrations.drivers.duckdb import DuckDBDriver
from dagster_project.lib.migrations.errors import ChecksumMismatch, LockNotAcquired
from dagster_project.lib.migrations.runner import Runner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "migrations"


@pytest.fixture
def duck_config(tmp_path: Path) -> Path:
    directory = tmp_path / "analytics"
    directory.mkdir()
    for source in (FIXTURES / "duckdb_basic").iterdir():
        (directory / source.name).write_bytes(source.read_bytes())
    config = {
        "defaults": {"lock_wait_seconds": 0},
        "telemetry": {"exporter": "none"},
        "targets": {
            "analytics": {
                "directory": str(directory),
                "url_env": "PLATFORM_TEST_UNUSED_URL",
                "default_url": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
            }
        },
    }
    path = tmp_path / "migrate.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def runner(config: Path) -> Runner:
    return Runner("analytics", config=load_config(config), actor="duck-test")


def test_up_down_and_history_on_duckdb(duck_config: Path, tmp_path: Path):
    result = runner(duck_config).up()
    assert result.applied_versions == ["202601010000", "202601010100"]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        assert conn.execute("SELECT events FROM analytics.daily").fetchall() == [(3,)]
        assert conn.execute(
            "SELECT action FROM platform_meta.migration_audit ORDER BY id"
        ).fetchall() == [("apply",), ("apply",)]
    assert runner(duck_config).down(steps=1).applied_versions == ["202601010100"]
    assert runner(duck_config).status().current_version == "202601010000"


def test_duckdb_checksum_drift_is_refused(duck_config: Path, tmp_path: Path):
    runner(duck_config).up()
    changed = tmp_path / "analytics" / "202601010000_create_rollups.up.sql"
    changed.write_text(changed.read_text() + "\n-- edited\n")
    with pytest.raises(ChecksumMismatch, match="202601010000_create_rollups.up.sql"):
        runner(duck_config).up()


def test_duckdb_lock_is_exclusive(duck_config: Path):
    url = runner(duck_config).url
    with DuckDBDriver(url) as first, DuckDBDriver(url) as second:
        with (
            first.lock("analytics", 0),
            pytest.raises(LockNotAcquired, match="locked"),
            second.lock("analytics", 0),
        ):
            pass
        with second.lock("analytics", 0):  # released when the holder is done
            pass


def test_duckdb_smoke_cycle_restores_catalog(duck_config: Path):
    report = smoke("analytics", config=load_config(duck_config))
    assert report.ok, report.failures


def test_cli_status_on_duckdb(duck_config: Path):
    runner(duck_config).up(steps=1)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster_project.cli",
            "migrate",
            "status",
            "--target",
            "analytics",
            "--config",
            str(duck_config),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"pending_count": 1' in result.stdout
