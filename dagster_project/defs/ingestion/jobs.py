"""`ingest_job`: ingest landing files, then check them (every file loaded, quarantine ratio, default
partition)."""

import dagster as dg

from dagster_project.defs.ingestion.assets import RAW_USAGE_EVENTS

# The platform's one default-partition check (defs/partitions/checks.py) runs after every load too:
# a load is when an event whose day has no partition would land in a default partition.
DEFAULT_PARTITION_CHECK = dg.AssetCheckKey(
    dg.AssetKey(["usage_event_partitions"]), "default_partition_empty"
)

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.assets(RAW_USAGE_EVENTS)  # with its checks
    | dg.AssetSelection.checks(DEFAULT_PARTITION_CHECK),
    description="Ingest usage-event files from the landing folder (or the run config's paths).",
    # One process: the loader parallelises itself (shards), a subprocess per step only adds
    # interpreter start-up.
    executor_def=dg.in_process_executor,
)

ingest_retention_job = dg.define_asset_job(
    name="ingest_retention_job",
    selection=dg.AssetSelection.assets("ingest_bookkeeping_retention"),
    description="Delete ingestion bookkeeping past its declared retention.",
    executor_def=dg.in_process_executor,  # one asset: a subprocess only adds start-up
)
