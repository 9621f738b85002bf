"""Load configs/ingest.yaml (or $INGEST_CONFIG) into one typed, validated IngestConfig."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dagster_project.lib import config as config_file
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
    max_event_age_days: int = 7
    quarantine_ratio_threshold: float = 0.05
    batch_size: int = 50_000
    shards: int = 1
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_multiplier: float = 2.0
    backoff_max_seconds: float = 60.0
    min_file_age_seconds: float = 5.0

    # Former keys, refused with what replaced them (lib/config.py).
    renamed: ClassVar[dict[str, str]] = {
        "retention_days": "renamed: use max_event_age_days (how many days old an event may be "
        "on arrival; retention_days is the partitions' expiry in configs/partitions.yaml)",
        "sensor_interval_seconds": "no longer a setting: landing_sensor lists the folder every "
        "30 s (SENSOR_INTERVAL_SECONDS in dagster_project/defs/ingestion/sensors.py)",
    }

    def replace(self, **changes: object) -> IngestConfig:
        return dataclasses.replace(self, **changes)

    def backoff_seconds(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based), without jitter."""
        delay = self.backoff_initial_seconds * self.backoff_multiplier ** (attempt - 1)
        return min(delay, self.backoff_max_seconds)


def _path(value: Path) -> Path:
    return value if value.is_absolute() else PROJECT_ROOT / value


def load_config(path: Path | str | None = None) -> IngestConfig:
    """The ingest config at `path`, else $INGEST_CONFIG, else configs/ingest.yaml; read when a
    run or a sensor tick needs it, never at import (a bad file fails ingestion only)."""
    config_path = Path(path or os.environ.get("INGEST_CONFIG") or DEFAULT_CONFIG_PATH)
    raw = config_file.read_mapping(config_path, what="ingest config", error=IngestError)
    # processed/ and dead_letter/ default to folders inside the landing folder.
    landing = raw.get("landing_dir", "data/landing")
    defaults: dict[str, object] = {"landing_dir": landing}
    if isinstance(landing, str):
        defaults |= {"processed_dir": f"{landing}/processed",
                     "dead_letter_dir": f"{landing}/dead_letter"}  # fmt: skip
    config = config_file.build(
        IngestConfig, {**defaults, **raw}, where=str(config_path), error=IngestError
    )
    config = config.replace(
        landing_dir=_path(config.landing_dir),
        processed_dir=_path(config.processed_dir),
        dead_letter_dir=_path(config.dead_letter_dir),
    )
    problems = validate(config)
    if problems:
        raise IngestError(f"{config_path}: " + "; ".join(problems))
    return config


def validate(config: IngestConfig) -> list[str]:
    rules = [
        (config.clock_skew_seconds >= 0, "clock_skew_seconds must be >= 0"),
        (config.max_event_age_days >= 1, "max_event_age_days must be >= 1"),
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
