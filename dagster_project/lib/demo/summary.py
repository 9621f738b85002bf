"""What `make demo` prints after `platform_job`: events accepted, duplicates and quarantined;
rollup rows; checks passed; where the warehouse, the analyst snapshot and the Data Docs are; an
example analyst query with its answer; how to open the UI.

    hours = rollup_range(manifest)                    # every hour the generated events fall in
    text = render(Summary(...), example_query(url, hours))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster_project.lib.rollup.ranges import HourRange
from dagster_project.lib.sqlfiles import read_sql


def rollup_range(manifest: dict[str, Any]) -> HourRange:
    """The generated window widened by how late a late event may be: late rows arrive inside
    the window but occurred up to max_late_days before its start."""
    window = manifest["window"]
    options = manifest["options"]
    start = datetime.fromisoformat(window["start"].replace("Z", "+00:00")).astimezone(UTC)
    end = datetime.fromisoformat(window["end"].replace("Z", "+00:00")).astimezone(UTC)
    if options.get("late_fraction"):
        start -= timedelta(days=int(options["max_late_days"]))
    return HourRange(start, end)


@dataclass(frozen=True)
class ExampleQuery:
    sql: str
    columns: list[str]
    rows: list[tuple]


def example_query(warehouse_url: str, hours: HourRange) -> ExampleQuery:
    """The most expensive organizations over the range's days, from the analyst view."""
    from dagster_project.lib.quality.common import warehouse_cursor

    days = hours.days()
    sql = read_sql(__package__, "top_organizations.sql").format(
        start=days.start.date(), end=days.end.date()
    )
    with warehouse_cursor(warehouse_url) as conn:
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description]
        rows = [tuple(r) for r in cursor.fetchall()]
    return ExampleQuery(sql, columns, rows)


def quarantine_reasons(operational_url: str, batch_ids: list[int]) -> dict[str, int]:
    """Quarantined events of these ingestion batches per reason, most frequent first."""
    from dagster_project.lib.db.postgres import connect

    with connect(operational_url) as conn:
        rows = conn.execute(
            "SELECT reason, count(*) FROM ingest.quarantine WHERE batch_id = ANY(%s) "
            "GROUP BY reason ORDER BY count(*) DESC, reason",
            (batch_ids,),
        ).fetchall()
    return {reason: int(n) for reason, n in rows}


@dataclass
class Summary:
    hours: HourRange
    ingest: dict[str, int]  # submitted, accepted, duplicates, quarantined (raw_usage_events)
    expected: dict[str, int]  # the generator's manifest: what ingestion must report
    replayed: bool  # the file had been ingested before: nothing was stored twice
    quarantine_reasons: dict[str, int]  # reason -> events of these batches in ingest.quarantine
    hourly_rows: int  # marts.usage_hourly rows in the range
    daily_rows: int  # marts.usage_daily rows in the range's days
    checks_passed: int
    checks_total: int
    warehouse: str  # the DuckDB file, or the PostgreSQL URL without its password
    snapshot: str | None  # DuckDB: the file analysts open
    data_docs: str | None
    traffic_file: str
    runs: dict[str, str] = field(default_factory=dict)  # job name -> run id

    @property
    def matches_manifest(self) -> bool:
        return all(self.ingest.get(k) == v for k, v in self.expected.items())


def render(s: Summary, query: ExampleQuery, *, ui_hint: str = "make ui") -> str:
    i, e = s.ingest, s.expected
    lines = [
        f"platform_job: usage of {s.hours.start:%Y-%m-%d %H:%M} .. "
        f"{s.hours.end:%Y-%m-%d %H:%M} UTC ({s.hours.hours} hours)",
        f"  traffic file     {s.traffic_file}",
        f"  events           {i['submitted']:,} submitted: {i['accepted']:,} accepted, "
        f"{i['duplicates']:,} duplicates, {i['quarantined']:,} quarantined",
        "  manifest         "
        + (
            "ingestion reported exactly what the generator's manifest expects"
            if s.matches_manifest
            else f"{e['accepted']:,} valid, {e['duplicates']:,} duplicates, "
            f"{e['quarantined']:,} invalid (a late event older than ingestion's retention "
            "is quarantined as older_than_retention)"
        ),
        "  quarantined by   "
        + (", ".join(f"{r} {n:,}" for r, n in s.quarantine_reasons.items()) or "-"),
        f"  rollup rows      {s.hourly_rows:,} in marts.usage_hourly, {s.daily_rows:,} in "
        "marts.usage_daily",
        f"  checks           {s.checks_passed}/{s.checks_total} reconciliation, Great "
        "Expectations and dbt checks passed",
        f"  warehouse        {s.warehouse}",
    ]
    if s.snapshot:
        lines.append(f"  analysts open    {s.snapshot} (read-only copy of the marts)")
    if s.data_docs:
        lines.append(f"  Data Docs        {s.data_docs}")
    for job, run_id in s.runs.items():
        lines.append(f"  run              {job} {run_id}")
    lines += ["", "Example analyst query (more in docs/analytics.md):", ""]
    lines += ["  " + line for line in query.sql.splitlines() if not line.startswith("--")]
    lines += ["", "  " + " | ".join(query.columns)]
    lines += ["  " + " | ".join(str(v) for v in row) for row in query.rows]
    lines += [
        "",
        "Re-running is safe: the same day regenerates the same file, which ingestion recognises "
        "(any event it already holds is a duplicate), and the rollups replace their hours."
        + (" This run was such a replay: nothing was stored twice." if s.replayed else ""),
        f"Open the UI on this instance: {ui_hint} (UI_PORT=3000 by default), then Assets or Runs.",
    ]
    return "\n".join(lines) + "\n"
