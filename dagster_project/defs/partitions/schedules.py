"""Run partition maintenance every day."""

import dagster as dg

from dagster_project.defs.partitions.jobs import partition_maintenance_job

partition_maintenance_schedule = dg.ScheduleDefinition(
    name="partition_maintenance_schedule",
    job=partition_maintenance_job,
    # 03:17 UTC: well after the UTC day boundary (so "today" is the new day) and at the low of
    # ingest traffic, when DDL locks are easiest to get; an odd minute keeps it off the :00 crowd.
    # Daily is plenty: future_days gives two weeks of margin.
    cron_schedule="17 3 * * *",
    execution_timezone="UTC",
    # On by default: with it off, ingestion stops future_days after the last run.
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
