"""`late_events_sensor`: re-roll exactly the hours that received events after their scheduled
rollup, collapsed into contiguous ranges, one run per range (a Dagster run costs 10-17 s here
against ~0.03 s of SQL per hour: never one run per hour).

It reads the ingestion's record of touched (organization, hour) pairs in the operational
database (ingest.touched_event_hours, written in the same transaction as the events), never the
warehouse: a sensor must not open the DuckDB file a run may be writing. A touch's
last_touched_at is its transaction's start, which may commit later than a younger one, so each
tick looks back LOOKBACK before its watermark, and the cursor remembers what it already
requested (organization, hour, rows added) so a touch seen twice is requested once.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.rollups.jobs import daily_rollup_job, hourly_rollup_job
from dagster_project.defs.rollups.partitions import DAILY, HOURLY
from dagster_project.lib.rollup.ranges import HOUR, collapse, iso, merge

# Longer than any ingest transaction: a chunk of 50k events commits within ~1 s here
# (configs/ingest.yaml batch_size), a 5-attempt retry sequence within ~15 s. 10 minutes is
# margin for a database under load; re-reading 10 minutes of touches costs one index range scan.
LOOKBACK = timedelta(minutes=10)
# The hourly schedule rolls hour H up at H+1h+5min: a touch after that came too late for it.
SCHEDULED_AFTER_END = timedelta(minutes=5)


@dg.sensor(
    jobs=[hourly_rollup_job, daily_rollup_job],
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests hourly_rollup_job (and daily_rollup_job for their days) for the "
    "contiguous ranges of hours that received events after their scheduled rollup.",
)
def late_events_sensor(context: dg.SensorEvaluationContext, operational_db: OperationalDatabase):
    from dagster_project.lib.rollup.late import touched_since

    state = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(UTC)
    watermark = (
        datetime.fromisoformat(state["watermark"]) if "watermark" in state else now - LOOKBACK
    )
    seen: dict[str, int] = state.get("seen", {})
    first_hour = HOURLY.start
    touches = touched_since(operational_db.url, watermark - LOOKBACK)
    late_hours, still_seen, new_touches = [], {}, []
    for touch in touches:
        key = f"{touch.organization_id}/{iso(touch.event_hour)}"
        still_seen[key] = touch.rows_added
        too_late = touch.last_touched_at >= touch.event_hour + HOUR + SCHEDULED_AFTER_END
        if too_late and touch.event_hour >= first_hour and seen.get(key) != touch.rows_added:
            late_hours.append(touch.event_hour)
            new_touches.append(f"{key}={touch.rows_added}")
    new_watermark = max([watermark, *(t.last_touched_at for t in touches)])
    context.update_cursor(json.dumps({"watermark": iso(new_watermark), "seen": still_seen}))
    if not late_hours:
        return dg.SkipReason(f"no late events since {iso(watermark - LOOKBACK)}")
    # The run key names the touches that caused the run: should the cursor update be lost, the
    # next tick asks for the same runs again and Dagster skips them.
    cause = ",".join(sorted(new_touches))
    requests = []
    hour_ranges = collapse(late_hours)
    for r in hour_ranges:
        requests.append(_request(hourly_rollup_job.name, HOURLY, r.start, r.end - HOUR, cause))
    for d in merge(r.days() for r in hour_ranges):
        requests.append(
            _request(daily_rollup_job.name, DAILY, d.start, d.end - timedelta(days=1), cause)
        )
    context.log.info(
        f"late events in {len(late_hours)} hour(s): {', '.join(map(str, hour_ranges))}"
    )
    return requests


def _request(job_name, partitions, first, last, cause: str) -> dg.RunRequest:
    start_key = partitions.get_partition_key_for_timestamp(first.timestamp())
    end_key = partitions.get_partition_key_for_timestamp(last.timestamp())
    return dg.RunRequest(
        job_name=job_name,
        run_key=hashlib.sha256(f"{job_name}:{first}:{last}:{cause}".encode()).hexdigest()[:32],
        tags={
            "dagster/asset_partition_range_start": start_key,
            "dagster/asset_partition_range_end": end_key,
            "rollup/reason": "late-events",
        },
    )
