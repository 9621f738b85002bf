"""`migrate_job`: apply every target's pending migrations, then run their health checks."""

import dagster as dg

migrate_job = dg.define_asset_job(
    name="migrate_job",
    selection=dg.AssetSelection.groups("migrations"),
    description="Apply pending migrations for every target and check migration health.",
)
