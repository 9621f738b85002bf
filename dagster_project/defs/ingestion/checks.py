"""No usage event may sit in a DEFAULT partition of app.usage_events (there is none by
design; retention and the daily queries never look there)."""

import dagster as dg

from dagster_project.defs.ingestion.assets import RAW_USAGE_EVENTS
from dagster_project.defs.ingestion.resources import IngestResource
from dagster_project.lib.ingest.loader import open_connection


@dg.asset_check(
    asset=RAW_USAGE_EVENTS,
    name="no_rows_in_default_partition",
    description="app.usage_events has no DEFAULT partition holding rows (an event whose day had "
    "no partition would have landed there).",
)
def no_rows_in_default_partition(ingest: IngestResource) -> dg.AssetCheckResult:
    settings = ingest.config()
    with open_connection(ingest.url(), settings.role, application="ingest-check") as conn:
        rows = conn.execute(
            "SELECT partition_name, row_count FROM ingest.usage_events_default_partition_rows()"
        ).fetchall()
    found = {name: count for name, count in rows}
    return dg.AssetCheckResult(
        passed=not any(found.values()),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "default_partition": next(iter(found), "none"),
            "rows_seen": sum(found.values()),  # counted up to 1000
        },
    )
