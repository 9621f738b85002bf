"""Load configs/ingest.yaml (or $INGEST_CONFIG) into one typed, validated IngestConfig."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from dagster_project.lib.errors import PlatformError
from dagster_project.lib.paths import CONFIGS_DIR, PROJECT_ROOT

DEFAULT_CONFIG_PATH = CONFIGS_DIR / "ingest.yaml"


class IngestError(PlatformError, RuntimeError):
    """Ingestion needs a person: bad config, unreadable file, a dead-lettered batch."""


@dataclass(frozen=True)
class IngestConfig:
    landing_dir: Path
    processed_dir: Path
    dead_letter_dir: Path
    role: str = "platform_ingest"
    clock_skew_seconds: int = 300
    retention_days: int = 7
    quarantine_ratio_threshold: float = 0.05
    batch_size: int = 50_000
    shards: int = 1
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_multiplier: float = 2.0
    backoff_max_seconds: float = 60.0
    min_file_age_seconds: float = 5.0
    sensor_interval_seconds: int = 30

    def replace(self, **changes: object) -> IngestConfig:
        return dataclasses.replace(self, **changes)

    def backoff_seconds(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based), without jitter."""
        delay = self.backoff_initial_seconds * self.backoff_multiplier ** (attempt - 1)
        return min(delay, self.backoff_max_seconds)


def _path(value: object) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else PROJECT_ROOT / path


def load_config(path: Path | str | None = None) -> IngestConfig:
    config_path = Path(path or os.environ.get("INGEST_CONFIG") or DEFAULT_CONFIG_PATH)
    if not config_path.is_file():
        raise IngestError(f"{config_path}: ingest config not found")
    try:
        raw = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise IngestError(f"{config_path}: invalid YAML: {exc}") from None
    known = {f.name for f in dataclasses.fields(IngestConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise IngestError(f"{config_path}: unknown keys: {', '.join(unknown)}")
    try:
        values = {
            name: _path(value) if name.endswith("_dir") else type(getattr(_DEFAULTS, name))(value)
            for name, value in raw.items()
        }
        landing = values.setdefault("landing_dir", _path("data/landing"))
        values.setdefault("processed_dir", landing / "processed")
        values.setdefault("dead_letter_dir", landing / "dead_letter")
        config = IngestConfig(**values)
    except (TypeError, ValueError) as exc:
        raise IngestError(f"{config_path}: {exc}") from None
    problems = validate(config)
    if problems:
        raise IngestError(f"{config_path}: " + "; ".join(problems))
    return config


def validate(config: IngestConfig) -> list[str]:
    rules = [
        (config.clock_skew_seconds >= 0, "clock_skew_seconds must be >= 0"),
        (config.retention_days >= 1, "retention_days must be >= 1"),
        (0 < config.quarantine_ratio_threshold <= 1, "quarantine_ratio_threshold must be in (0, 1]"),
        (config.batch_size >= 1, "batch_size must be >= 1"),
        (1 <= config.shards <= 64, "shards must be between 1 and 64"),
        (config.max_attempts >= 1, "max_attempts must be >= 1"),
        (config.backoff_initial_seconds >= 0, "backoff_initial_seconds must be >= 0"),
        (config.backoff_multiplier >= 1, "backoff_multiplier must be >= 1"),
        (config.backoff_max_seconds >= config.backoff_initial_seconds,
         "backoff_max_seconds must be >= backoff_initial_seconds"),
        (bool(config.role), "role must name a database role"),
    ]  # fmt: skip
    return [message for ok, message in rules if not ok]


_DEFAULTS = IngestConfig(Path("."), Path("."), Path("."))
