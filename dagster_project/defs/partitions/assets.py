"""`usage_event_partitions`: create the days ahead, retire the days past retention."""

import dagster as dg

from dagster_project.defs.partitions.resources import PartitionMaintenanceResource
from dagster_project.lib import partitions


@dg.asset(
    key=dg.AssetKey(["usage_event_partitions"]),
    deps=[dg.AssetKey(["operational_schema"])],
    group_name="partitions",
    kinds={"postgres"},
    description="Daily partitions of app.usage_events: the window configs/partitions.yaml asks "
    "for exists, partitions past retention are detached (and dropped or kept).",
    # A lock not granted within lock_timeout is usually one long transaction: 3 tries 10 minutes
    # apart ride it out; past that the check fails and future_days leaves days to react.
    retry_policy=dg.RetryPolicy(max_retries=3, delay=600),
)
def usage_event_partitions(
    context: dg.AssetExecutionContext, partition_maintenance: PartitionMaintenanceResource
) -> dg.MaterializeResult:
    policy = partition_maintenance.policy()
    with partition_maintenance.connect() as conn:
        created = partitions.ensure(conn, policy=policy)
        pruned = partitions.prune(conn, policy=policy)
        report = partitions.status(conn, policy=policy)
    for name in created:
        context.log.info(f"created {name}")
    for r in pruned.retired:
        context.log.info(
            f"retired {r.partition}: " + (f"kept as {r.kept_as}" if r.kept_as else "dropped")
        )
    return dg.MaterializeResult(
        metadata={
            "created": created,
            "detached": [r.kept_as for r in pruned.retired if r.kept_as],
            "dropped": [r.partition for r in pruned.retired if not r.kept_as],
            "partition_count": len(report.partitions),
            "oldest_bound": str(report.oldest_bound),
            "newest_bound": str(report.newest_bound),
            "retention_cutoff": str(pruned.cutoff),
            "detached_awaiting_archive": len(report.detached),
        }
    )
