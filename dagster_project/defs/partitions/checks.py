"""Fail when ingestion could lose or misplace rows: a needed day has no partition, or rows went
to a default partition (the schema has none; someone added one).

`default_partition_empty` is the platform's one default-partition check: the partition job runs
it after maintenance and the ingest job after every load (defs/ingestion/jobs.py selects it)."""

import dagster as dg

from dagster_project.defs.partitions.assets import usage_event_partitions
from dagster_project.defs.partitions.resources import PartitionMaintenanceResource
from dagster_project.lib import partitions


def _status(partition_maintenance: PartitionMaintenanceResource) -> partitions.Status:
    with partition_maintenance.connect() as conn:
        return partitions.status(conn, policy=partition_maintenance.policy())


@dg.asset_check(
    asset=usage_event_partitions,
    description="Every day from today - lookback_days to today + future_days has a partition.",
    blocking=True,
)
def needed_partitions_exist(
    partition_maintenance: PartitionMaintenanceResource,
) -> dg.AssetCheckResult:
    report = _status(partition_maintenance)
    return dg.AssetCheckResult(
        passed=not report.missing_days,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "today_utc": str(report.today),
            "missing_days": [str(d) for d in report.missing_days],
            "partition_count": len(report.partitions),
            "newest_bound": str(report.newest_bound),
        },
    )


@dg.asset_check(
    asset=usage_event_partitions,
    description="No rows in a default partition of app.usage_events (an event whose day had no "
    "partition lands there, and escapes retention, pruning and the daily queries).",
    blocking=True,
)
def default_partition_empty(
    partition_maintenance: PartitionMaintenanceResource,
) -> dg.AssetCheckResult:
    with partition_maintenance.connect() as conn:
        found = partitions.default_partition(conn, policy=partition_maintenance.policy())
    return dg.AssetCheckResult(
        passed=found.rows == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "default_partition": found.name or "none",
            "default_rows": found.rows,  # counted up to lib.partitions DEFAULT_ROWS_CAP
        },
    )
