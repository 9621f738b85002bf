"""Roll up each UTC hour shortly after it ends, and each UTC day after its last hour."""

import dagster as dg

from dagster_project.defs.rollups.jobs import daily_rollup_job, hourly_rollup_job

# :05 past the hour: ingestion commits a file's chunks within seconds of its arrival; the few
# events that arrive later are late events, and the late-event sensor re-rolls their hours.
hourly_rollup_schedule = dg.build_schedule_from_partitioned_job(
    hourly_rollup_job,
    minute_of_hour=5,
    name="hourly_rollup_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

# 00:20 UTC: after the hourly run of the day's last hour (00:05) has had time to finish.
daily_rollup_schedule = dg.build_schedule_from_partitioned_job(
    daily_rollup_job,
    hour_of_day=0,
    minute_of_hour=20,
    name="daily_rollup_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
