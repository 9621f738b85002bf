"""`partition_maintenance_job`: the partitions asset and its checks."""

import dagster as dg

from dagster_project.defs.partitions.assets import usage_event_partitions

partition_maintenance_job = dg.define_asset_job(
    name="partition_maintenance_job",
    selection=dg.AssetSelection.assets(usage_event_partitions),
    description="Create upcoming usage_events partitions, retire expired ones, check the result.",
    # One asset, a few DDL statements: a subprocess would only add interpreter start-up.
    executor_def=dg.in_process_executor,
)
