"""`migrate_job`: apply every target's pending migrations, then run their health checks."""

import dagster as dg

migrate_job = dg.define_asset_job(
    name="migrate_job",
    selection=dg.AssetSelection.groups("migrations"),
    description="Apply pending migrations for every target and check migration health.",
    # Migrations run one at a time under a lock anyway; a subprocess per step would only add
    # seconds of interpreter start-up to every run.
    executor_def=dg.in_process_executor,
)
