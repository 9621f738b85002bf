"""Load configs/migrate.yaml into typed settings."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dagster_project.lib.migrations.errors import ConfigError
from dagster_project.lib.paths import CONFIGS_DIR, PROJECT_ROOT

DEFAULT_CONFIG_PATH = CONFIGS_DIR / "migrate.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, None: 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}


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
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000)
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(f"{key}: {value!r} is not a duration (e.g. 5s, 250ms, 2min)")
    return int(float(match[1]) * _UNIT_SECONDS[match[2]] * 1000)


def load_config(path: Path | str | None = None) -> MigrateConfig:
    config_path = Path(path or os.environ.get("MIGRATE_CONFIG") or DEFAULT_CONFIG_PATH)
    if not config_path.is_file():
        raise ConfigError(f"{config_path}: migrate config not found")
    try:
        raw = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: invalid YAML: {exc}") from None
    defaults = raw.get("defaults", {}) or {}
    connection = raw.get("connection", {}) or {}
    settings = Settings(
        lock_timeout_ms=parse_duration_ms(defaults.get("lock_timeout", "5s"), "lock_timeout"),
        statement_timeout_ms=parse_duration_ms(
            defaults.get("statement_timeout", 0), "statement_timeout"
        ),
        lock_wait_seconds=float(defaults.get("lock_wait_seconds", 30)),
        long_running_warning_seconds=float(defaults.get("long_running_warning_seconds", 60)),
        exact_row_count_limit=int(defaults.get("exact_row_count_limit", 1_000_000)),
        apply_window_seconds=float(defaults.get("apply_window_seconds", 600)),
        rollback_window_seconds=float(defaults.get("rollback_window_seconds", 60)),
        connect_attempts=int(connection.get("connect_attempts", 5)),
        backoff_seconds=float(connection.get("backoff_seconds", 1.0)),
    )
    base = config_path.parent.parent if config_path.parent.name == "configs" else PROJECT_ROOT
    targets = {
        name: _target(name, spec or {}, base, config_path)
        for name, spec in (raw.get("targets") or {}).items()
    }
    telemetry = raw.get("telemetry", {}) or {}
    return MigrateConfig(
        settings=settings,
        targets=targets,
        telemetry_exporter=str(telemetry.get("exporter", "none")),
        service_name=str(telemetry.get("service_name", "platform-migrations")),
        source=config_path,
        raw=raw,
    )


def _target(name: str, spec: dict[str, Any], base: Path, config_path: Path) -> Target:
    for key in ("directory", "url_env", "default_url"):
        if key not in spec:
            raise ConfigError(f"{config_path}: target {name!r} needs {key!r}")
    directory = Path(spec["directory"])
    return Target(
        name=name,
        directory=directory if directory.is_absolute() else base / directory,
        url_env=str(spec["url_env"]),
        default_url=str(spec["default_url"]),
        protected=bool(spec.get("protected", False)),
    )
