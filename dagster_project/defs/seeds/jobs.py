"""`seed_job`: load the fixtures. Run `migrate_job` first: seeding never migrates."""

import dagster as dg

from dagster_project.defs.seeds.assets import operational_seed

seed_job = dg.define_asset_job(
    name="seed_job",
    selection=dg.AssetSelection.assets(operational_seed),
    description="Insert the missing fixtures of seeds/ into the operational database.",
    # One asset, one transaction: a subprocess would only add interpreter start-up.
    executor_def=dg.in_process_executor,
)
