"""The rollup jobs: load -> rebuild -> check -> publish, for a range of hours or of days."""

import dagster as dg

from dagster_project.defs.rollups.assets import analyst_snapshot
from dagster_project.defs.rollups.dbt_assets import (
    daily_increment,
    daily_marts,
    hourly_increment,
    hourly_marts,
)
from dagster_project.defs.warehouse.assets import warehouse_landing

# One process: every step writes the same warehouse one after the other (pool `warehouse`), and
# a subprocess per step would add seconds of interpreter start-up to each.
hourly_rollup_job = dg.define_asset_job(
    name="hourly_rollup_job",
    selection=dg.AssetSelection.assets(
        warehouse_landing, hourly_increment, hourly_marts, analyst_snapshot
    ),
    executor_def=dg.in_process_executor,
    description="Copy the range's hours to landing, rebuild them in increment.usage_hourly_"
    "increment, reconcile and validate them, then publish them to marts.usage_hourly (and the "
    "DuckDB snapshot analysts open).",
)

daily_rollup_job = dg.define_asset_job(
    name="daily_rollup_job",
    selection=dg.AssetSelection.assets(daily_increment, daily_marts, analyst_snapshot),
    executor_def=dg.in_process_executor,
    description="Rebuild the range's days from landing, reconcile and validate them, publish them "
    "to the daily marts, refresh the analyst views (and the DuckDB snapshot).",
)
