"""lib/demo/summary: the range `platform_job` rolls up, and what the summary says."""

from datetime import UTC, datetime

from dagster_project.lib.demo.summary import ExampleQuery, Summary, render, rollup_range
from dagster_project.lib.rollup.ranges import HourRange


def _manifest(late_fraction: float, max_late_days: int = 1) -> dict:
    return {
        "window": {"start": "2026-11-29T00:00:00Z", "end": "2026-12-05T00:00:00Z"},
        "options": {"late_fraction": late_fraction, "max_late_days": max_late_days},
    }


def test_the_range_starts_as_early_as_a_late_event_can_have_occurred():
    assert rollup_range(_manifest(0.02, 2)) == HourRange(
        datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC)
    )
    assert rollup_range(_manifest(0.0, 2)).start == datetime(2026, 11, 29, tzinfo=UTC)


def _summary(ingest: dict, *, replayed: bool) -> Summary:
    return Summary(
        hours=rollup_range(_manifest(0.02)),
        ingest=ingest,
        expected={"submitted": 100, "accepted": 90, "duplicates": 5, "quarantined": 5},
        replayed=replayed,
        quarantine_reasons={"invalid_value": 3, "older_than_retention": 2},
        hourly_rows=10,
        daily_rows=2,
        checks_passed=7,
        checks_total=7,
        warehouse="/x/warehouse.duckdb",
        snapshot="/x/analytics.duckdb",
        data_docs=None,
        traffic_file="/x/usage-week.ndjson",
    )


QUERY = ExampleQuery("SELECT 1 AS one", ["one"], [(1,)])


def test_the_summary_says_whether_ingestion_matched_the_manifest():
    exact = {"submitted": 100, "accepted": 90, "duplicates": 5, "quarantined": 5}
    text = render(_summary(exact, replayed=False), QUERY)
    assert "100 submitted: 90 accepted, 5 duplicates, 5 quarantined" in text
    assert "exactly what the generator's manifest expects" in text
    assert "7/7 reconciliation" in text and "Data Docs" not in text
    assert "This run was such a replay" not in text

    older = {"submitted": 100, "accepted": 88, "duplicates": 5, "quarantined": 7}
    text = render(_summary(older, replayed=True), QUERY)
    assert "90 valid, 5 duplicates, 5 invalid" in text
    assert "invalid_value 3, older_than_retention 2" in text
    assert "This run was such a replay: nothing was stored twice." in text
    assert "  one\n  1\n" in text
