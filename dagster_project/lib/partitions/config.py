"""Load configs/partitions.yaml into one typed policy per partitioned table."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from dagster_project.lib.errors import PlatformError
from dagster_project.lib.migrations.config import parse_duration_ms
from dagster_project.lib.migrations.errors import ConfigError
from dagster_project.lib.paths import CONFIGS_DIR

DEFAULT_CONFIG_PATH = CONFIGS_DIR / "partitions.yaml"
USAGE_EVENTS = "app.usage_events"
ON_EXPIRY = ("detach", "drop")


class PartitionError(PlatformError, RuntimeError):
    """Partition maintenance needs a person: bad config, a lock not granted, a stuck detach."""


@dataclass(frozen=True)
class Policy:
    """How one daily-partitioned table is maintained (see configs/partitions.yaml)."""

    table: str  # schema-qualified parent, e.g. app.usage_events
    ensure_function: str  # (from date, to date) -> int, creates the missing days
    future_days: int
    lookback_days: int
    retention_days: int
    on_expiry: str
    archive_schema: str
    lock_timeout_ms: int
    detach_lock_timeout_ms: int

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.table.split(".", 1)[1]


def load_policy(table: str = USAGE_EVENTS, path: Path | str | None = None) -> Policy:
    config_path = Path(path or os.environ.get("PARTITIONS_CONFIG") or DEFAULT_CONFIG_PATH)
    if not config_path.is_file():
        raise PartitionError(f"{config_path}: partitions config not found")
    try:
        tables = (yaml.safe_load(config_path.read_text()) or {}).get("tables") or {}
    except yaml.YAMLError as exc:
        raise PartitionError(f"{config_path}: invalid YAML: {exc}") from None
    spec = tables.get(table)
    if not spec:
        raise PartitionError(f"{config_path}: no entry for table {table!r}")
    where = f"{config_path}: {table}"
    try:
        policy = Policy(
            table=table,
            ensure_function=str(spec["ensure_function"]),
            future_days=int(spec["future_days"]),
            lookback_days=int(spec["lookback_days"]),
            retention_days=int(spec["retention_days"]),
            on_expiry=str(spec["on_expiry"]),
            archive_schema=str(spec.get("archive_schema") or table.split(".", 1)[0]),
            lock_timeout_ms=parse_duration_ms(spec["lock_timeout"], "lock_timeout"),
            detach_lock_timeout_ms=parse_duration_ms(
                spec["detach_lock_timeout"], "detach_lock_timeout"
            ),
        )
    except KeyError as exc:
        raise PartitionError(f"{where}: missing key {exc}") from None
    except (ValueError, ConfigError) as exc:
        raise PartitionError(f"{where}: {exc}") from None
    rules = [
        ("." in table, "table must be schema-qualified"),
        (policy.future_days >= 1, "future_days must be >= 1"),
        (policy.lookback_days >= 0, "lookback_days must be >= 0"),
        # Otherwise ensure would recreate days that prune removes.
        (policy.retention_days > policy.lookback_days, "retention_days must exceed lookback_days"),
        (policy.on_expiry in ON_EXPIRY, f"on_expiry must be one of {', '.join(ON_EXPIRY)}"),
        (min(policy.lock_timeout_ms, policy.detach_lock_timeout_ms) > 0, "timeouts must be > 0"),
    ]
    problems = [message for ok, message in rules if not ok]
    if problems:
        raise PartitionError(f"{where}: " + "; ".join(problems))
    return policy
