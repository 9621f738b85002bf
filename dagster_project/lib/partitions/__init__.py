"""Partition maintenance for daily-partitioned tables (app.usage_events): plain Python, no Dagster.

with connect(url) as conn:
    created = ensure(conn)          # the missing days of the needed window
    result = prune(conn)            # partitions past retention: detach, then drop or keep
    report = status(conn)           # bounds, missing days, default partition rows
"""

from dagster_project.lib.partitions.config import USAGE_EVENTS, PartitionError, Policy, load_policy
from dagster_project.lib.partitions.maintenance import (
    Partition,
    PruneResult,
    Retired,
    Status,
    connect,
    ensure,
    needed_days,
    prune,
    retention_cutoff,
    status,
    today_utc,
)

__all__ = [
    "USAGE_EVENTS",
    "Partition",
    "PartitionError",
    "Policy",
    "PruneResult",
    "Retired",
    "Status",
    "connect",
    "ensure",
    "load_policy",
    "needed_days",
    "prune",
    "retention_cutoff",
    "status",
    "today_utc",
]
