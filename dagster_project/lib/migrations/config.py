"""Load configs/migrate.yaml into typed settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dagster_project.lib import config as config_file
from dagster_project.lib.config import Duration
from dagster_project.lib.migrations.errors import ConfigError
from dagster_project.lib.paths import CONFIGS_DIR, PROJECT_ROOT

DEFAULT_CONFIG_PATH = CONFIGS_DIR / "migrate.yaml"


@dataclass(frozen=True)
class Settings:
    lock_timeout_ms: int = 5000
    statement_timeout_ms: int = 0
    lock_wait_seconds: float = 30.0
    long_running_warning_seconds: float = 60.0
    exact_row_count_limit: int = 1_000_000
    apply_window_seconds: float = 600.0
    rollback_window_seconds: float = 60.0
    connect_attempts: int = 5
    backoff_seconds: float = 1.0


@dataclass(frozen=True)
class Target:
    name: str
    directory: Path
    url_env: str
    default_url: str
    protected: bool = False

    def url(self, explicit: str | None = None) -> str:
        return explicit or os.environ.get(self.url_env) or self.default_url


@dataclass(frozen=True)
class MigrateConfig:
    settings: Settings
    targets: dict[str, Target]
    telemetry_exporter: str = "none"
    service_name: str = "platform-migrations"
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def target(self, name: str) -> Target:
        try:
            return self.targets[name]
        except KeyError:
            known = ", ".join(sorted(self.targets)) or "none"
            raise ConfigError(f"unknown target {name!r} (configured: {known})") from None


def parse_duration_ms(value: Any, key: str) -> int:
    """'5s', '250ms', '2min', 0 or a bare number of seconds -> milliseconds."""
    ms = config_file.parse_duration_ms(value)
    if ms is None:
        raise ConfigError(f"{key}: {value!r} is not {config_file.DURATION_HINT}")
    return ms


# -- the file's shape (lib/config.py reads it strictly) ------------------------------------------


@dataclass(frozen=True)
class _Defaults:
    lock_timeout: Duration = 5000
    statement_timeout: Duration = 0
    lock_wait_seconds: float = 30.0
    long_running_warning_seconds: float = 60.0
    exact_row_count_limit: int = 1_000_000
    apply_window_seconds: float = 600.0
    rollback_window_seconds: float = 60.0


@dataclass(frozen=True)
class _Connection:
    connect_attempts: int = 5
    backoff_seconds: float = 1.0


@dataclass(frozen=True)
class _Telemetry:
    service_name: str = "platform-migrations"
    exporter: Literal["console", "otlp", "none"] = "none"


@dataclass(frozen=True)
class _TargetSpec:
    directory: str
    url_env: str
    default_url: str
    protected: bool = False


@dataclass(frozen=True)
class _MigrateFile:
    defaults: _Defaults = field(default_factory=_Defaults)
    connection: _Connection = field(default_factory=_Connection)
    telemetry: _Telemetry = field(default_factory=_Telemetry)
    targets: dict[str, _TargetSpec] = field(default_factory=dict)


def load_config(path: Path | str | None = None) -> MigrateConfig:
    config_path = Path(path or os.environ.get("MIGRATE_CONFIG") or DEFAULT_CONFIG_PATH)
    raw = config_file.read_mapping(config_path, what="migrate config", error=ConfigError)
    spec = config_file.build(_MigrateFile, raw, where=str(config_path), error=ConfigError)
    d, c = spec.defaults, spec.connection
    settings = Settings(
        lock_timeout_ms=d.lock_timeout,
        statement_timeout_ms=d.statement_timeout,
        lock_wait_seconds=d.lock_wait_seconds,
        long_running_warning_seconds=d.long_running_warning_seconds,
        exact_row_count_limit=d.exact_row_count_limit,
        apply_window_seconds=d.apply_window_seconds,
        rollback_window_seconds=d.rollback_window_seconds,
        connect_attempts=c.connect_attempts,
        backoff_seconds=c.backoff_seconds,
    )
    base = config_path.parent.parent if config_path.parent.name == "configs" else PROJECT_ROOT
    targets = {name: _target(name, target, base) for name, target in spec.targets.items()}
    return MigrateConfig(
        settings=settings,
        targets=targets,
        telemetry_exporter=spec.telemetry.exporter,
        service_name=spec.telemetry.service_name,
        source=config_path,
        raw=raw,
    )


def _target(name: str, spec: _TargetSpec, base: Path) -> Target:
    directory = Path(spec.directory)
    return Target(
        name=name,
        directory=directory if directory.is_absolute() else base / directory,
        url_env=spec.url_env,
        default_url=spec.default_url,
        protected=spec.protected,
    )
