"""Load configs/partitions.yaml into one typed policy per partitioned table."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dagster_project.lib import config as config_file
from dagster_project.lib.config import Duration
from dagster_project.lib.errors import PlatformError
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


@dataclass(frozen=True)
class _TableSpec:
    ensure_function: str
    future_days: int
    lookback_days: int
    retention_days: int
    on_expiry: Literal["detach", "drop"]
    lock_timeout: Duration
    detach_lock_timeout: Duration
    archive_schema: str | None = None


@dataclass(frozen=True)
class _PartitionsFile:
    tables: dict[str, _TableSpec] = field(default_factory=dict)


def load_policy(table: str = USAGE_EVENTS, path: Path | str | None = None) -> Policy:
    config_path = Path(path or os.environ.get("PARTITIONS_CONFIG") or DEFAULT_CONFIG_PATH)
    spec = config_file.load(
        config_path, _PartitionsFile, what="partitions config", error=PartitionError
    ).tables.get(table)
    if spec is None:
        raise PartitionError(f"{config_path}: tables: no entry for table {table!r}")
    where = f"{config_path}: tables.{table}"
    policy = Policy(
        table=table,
        ensure_function=spec.ensure_function,
        future_days=spec.future_days,
        lookback_days=spec.lookback_days,
        retention_days=spec.retention_days,
        on_expiry=spec.on_expiry,
        archive_schema=spec.archive_schema or table.split(".", 1)[0],
        lock_timeout_ms=spec.lock_timeout,
        detach_lock_timeout_ms=spec.detach_lock_timeout,
    )
    rules = [
        ("." in table, "table must be schema-qualified"),
        (policy.future_days >= 1, "future_days must be >= 1"),
        (policy.lookback_days >= 0, "lookback_days must be >= 0"),
        # Otherwise ensure would recreate days that prune removes.
        (policy.retention_days > policy.lookback_days, "retention_days must exceed lookback_days"),
        (min(policy.lock_timeout_ms, policy.detach_lock_timeout_ms) > 0, "timeouts must be > 0"),
    ]
    problems = [message for ok, message in rules if not ok]
    if problems:
        raise PartitionError(f"{where}: " + "; ".join(problems))
    return policy
