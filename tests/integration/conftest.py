"""Fixtures for the migration-engine tests: a config file pointing a fixture set at a test DB."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dagster_project.lib.migrations.config import MigrateConfig, load_config
from dagster_project.lib.migrations.runner import Runner

FIXTURE_SETS = Path(__file__).resolve().parents[1] / "fixtures" / "migrations"

ConfigFactory = Callable[..., Path]


@pytest.fixture
def write_migrate_config(tmp_path: Path) -> ConfigFactory:
    """Write a migrate.yaml whose `operational` target is a copy of a fixture set on `url`.

    The set is copied so a test may edit files (checksum drift, out-of-order) safely.
    """

    def write(fixture_set: str, url: str, *, protected: bool = False, **defaults: object) -> Path:
        directory = tmp_path / "migrations" / fixture_set
        if not directory.exists():
            shutil.copytree(FIXTURE_SETS / fixture_set, directory)
        config = {
            "defaults": {"lock_timeout": "5s", "lock_wait_seconds": 10, **defaults},
            "connection": {"connect_attempts": 1},
            "telemetry": {"exporter": "none"},
            "targets": {
                "operational": {
                    "directory": str(directory),
                    "url_env": "PLATFORM_TEST_UNUSED_URL",
                    "default_url": url,
                    "protected": protected,
                }
            },
        }
        path = tmp_path / f"migrate-{fixture_set}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write


@pytest.fixture
def make_runner(write_migrate_config: ConfigFactory) -> Callable[..., Runner]:
    def make(fixture_set: str, url: str, *, actor: str = "test-suite", **options: object) -> Runner:
        config: MigrateConfig = load_config(write_migrate_config(fixture_set, url, **options))
        return Runner("operational", config=config, actor=actor)

    return make
