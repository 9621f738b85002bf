"""The time windows rollups are partitioned by: UTC hours for landing and the hourly mart, UTC
days for the daily marts. A run takes a partition range and rebuilds it in one dbt invocation
(BackfillPolicy.single_run): a Dagster run costs 10-17 s here against ~0.03 s of SQL per hour."""

import dagster as dg

from dagster_project.lib.rollup.ranges import HourRange

# The first day the platform has usage for (the operational schema's first migration is of
# 2026-11-22; a week of late events before it). Older data: `platformctl rollup --from`.
START = "2026-11-01"

HOURLY = dg.HourlyPartitionsDefinition(start_date=f"{START}-00:00", timezone="UTC")
DAILY = dg.DailyPartitionsDefinition(start_date=START, timezone="UTC")
SINGLE_RUN = dg.BackfillPolicy.single_run()


def run_range(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> HourRange:
    """The run's partition range as whole UTC hours (a day partition is 24 of them)."""
    window = context.partition_time_window
    return HourRange(window.start, window.end)
