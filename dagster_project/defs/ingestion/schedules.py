"""Trim the ingestion bookkeeping to its retention every day."""

import dagster as dg

from dagster_project.defs.ingestion.jobs import ingest_retention_job

ingest_retention_schedule = dg.ScheduleDefinition(
    name="ingest_retention_schedule",
    job=ingest_retention_job,
    # 03:47 UTC: after partition maintenance (03:17), at the low of ingest traffic. Retentions
    # are counted in days: daily keeps each table within a day of its policy.
    cron_schedule="47 3 * * *",
    execution_timezone="UTC",
    # On by default: with it off, the keys table grows by ~100 bytes per event forever.
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
