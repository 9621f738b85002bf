"""Partition maintenance for daily-partitioned tables (app.usage_events): plain Python, no Dagster.

with connect(url) as conn:
    created = ensure(conn)          # the missing days of the needed window
    result = prune(conn)            # partitions past retention: detach, then drop or keep
    report = status(conn)           # bounds, missing days, default partition rows
"""

from dagster_project.lib.partitions.config import USAGE_EVENTS, PartitionError, Policy, load_policy
from dagster_project.lib.partitions.maintenance import (
    DefaultPartition,
    Partition,
    PruneResult,
    Retired,
    Status,
    connect,
    default_partition,
    ensure,
    needed_days,
    prune,
    retention_cutoff,
    status,
    today_utc,
)

__all__ = [
    "USAGE_EVENTS",
    "DefaultPartition",
    "Partition",
    "PartitionError",
    "Policy",
    "PruneResult",
    "Retired",
    "Status",
    "connect",
    "default_partition",
    "ensure",
    "load_policy",
    "needed_days",
    "prune",
    "retention_cutoff",
    "status",
    "today_utc",
]
