"""`platform_job`: the whole platform on a fresh clone, one run (`make demo`, and CI):

    operational_schema, analytics_schema (+ health checks) -> operational_seed
    -> usage_event_partitions (+ checks) -> usage_event_files (a generated week)
    -> raw_usage_events (+ quarantine and default-partition checks)
    -> platform_rollups: hourly_rollup_job and daily_rollup_job over the week (landing ->
       staging -> increments -> reconciliation + Great Expectations -> marts -> analyst views)

The stages' own assets, selected across groups; nothing is duplicated here.
"""

import dagster as dg

from dagster_project.defs.ingestion.assets import IngestRunConfig, raw_usage_events
from dagster_project.defs.partitions.assets import usage_event_partitions
from dagster_project.defs.platform.assets import (
    DEMO_FILE,
    TrafficConfig,
    platform_rollups,
    usage_event_files,
)
from dagster_project.defs.seeds.assets import operational_seed

platform_job = dg.define_asset_job(
    name="platform_job",
    selection=dg.AssetSelection.groups("migrations")
    | dg.AssetSelection.assets(
        operational_seed,
        usage_event_partitions,
        usage_event_files,
        raw_usage_events,
        platform_rollups,
    ),
    # The default run config: ingest exactly the generated file (a run config that moves the
    # traffic elsewhere names the same path twice, see tests/integration/test_platform_job.py).
    config=dg.RunConfig(
        ops={
            "usage_event_files": TrafficConfig(),
            "raw_usage_events": IngestRunConfig(paths=[str(DEMO_FILE)]),
        }
    ),
    # One process: the steps run one after the other anyway (each needs the previous one's
    # data), and a subprocess per step would add seconds of interpreter start-up to each.
    executor_def=dg.in_process_executor,
    description="Migrate both targets, seed, generate a week of traffic (late, duplicate and "
    "invalid events), ingest it, roll it up hourly and daily with reconciliation and Great "
    "Expectations checks, and write the summary `make demo` prints. Safe to re-run.",
)
