"""lib/quality without a database: ranges, relation names, the comparison and its listing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dagster_project.lib.errors import PlatformError
from dagster_project.lib.quality import common, reconcile
from dagster_project.lib.quality.common import QualityInputError
from dagster_project.lib.quality.expectations import SUITES, Expected, _suite

T = datetime(2026, 11, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_ranges_are_parsed_sorted_and_merged():
    ranges = [
        ("2026-11-01T05:00:00Z", "2026-11-01T07:00:00+00:00"),
        (T, T + 2 * H),
        (T + 2 * H, T + 3 * H),  # touches the previous one
        (T + 6 * H, T + 8 * H),  # overlaps the first
    ]
    assert common.normalize_ranges(ranges) == [(T, T + 3 * H), (T + 5 * H, T + 8 * H)]
    # Another zone is the same instant.
    assert common.normalize_ranges(
        [("2026-11-01T01:00:00+01:00", "2026-11-01T02:00:00+01:00")]
    ) == [(T, T + H)]


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([], "no ranges given"),
        ([("2026-11-01T00:00:00", "2026-11-01T01:00:00Z")], "without a time zone"),
        ([("2026-11-01T00:30:00Z", "2026-11-01T01:00:00Z")], "not the start of a UTC hour"),
        ([("2026-11-01T01:00:00Z", "2026-11-01T01:00:00Z")], "is not before end"),
        ([("yesterday", "2026-11-01T01:00:00Z")], "not an ISO-8601 timestamp"),
        (["2026-11-01T00:00:00Z"], "expected a [start, end) pair"),
    ],
)
def test_bad_ranges_get_one_line(ranges, message):
    with pytest.raises(QualityInputError) as raised:
        common.normalize_ranges(ranges)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert isinstance(raised.value, PlatformError)


def test_days_widen_to_whole_utc_days():
    ranges = [(T + 22 * H, T + 26 * H), (T + 72 * H, T + 73 * H)]
    assert common.widen_to_days(ranges) == [(T, T + 48 * H), (T + 72 * H, T + 96 * H)]
    assert common.days_of(ranges) == [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 4)]
    assert common.normalize_days(["2026-11-02", date(2026, 11, 1), "2026-11-02"]) == [
        date(2026, 11, 1),
        date(2026, 11, 2),
    ]
    with pytest.raises(QualityInputError, match="not an ISO date"):
        common.normalize_days(["11/02/2026"])


def test_relation_names_and_urls_are_checked():
    assert common.quote_relation("increment.usage_hourly_increment") == (
        '"increment"."usage_hourly_increment"'
    )
    for bad in ("usage_hourly", "a.b.c", 'marts.x"; DROP TABLE y; --', "marts.1x"):
        with pytest.raises(QualityInputError, match="schema.table"):
            common.quote_relation(bad)
    assert common.warehouse_engine("duckdb:///.data/w.duckdb") == "duckdb"
    assert common.warehouse_engine("postgresql+psycopg2://u@h/db") == "postgres"
    with pytest.raises(QualityInputError, match="unsupported warehouse URL 'sqlite:///x.db'"):
        common.warehouse_engine("sqlite:///x.db")


def test_rendered_sql_carries_literal_ranges_and_days():
    text = common.render(
        "warehouse_hourly.sql", [(T, T + H)], relation="increment.usage_hourly_increment"
    )
    assert '"increment"."usage_hourly_increment"' in text
    assert "h.hour_start >= CAST('2026-11-01T00:00:00+00:00' AS TIMESTAMPTZ)" in text
    text = common.render("warehouse_daily.sql", days=[date(2026, 11, 1)], relation="a.b")
    assert "IN (CAST('2026-11-01' AS DATE))" in text


def _row(hour, org, requests, cost):
    categories = [Decimal(0) if c.endswith("_usd") else 0 for c in reconcile.CATEGORY_MEASURES]
    return (hour, org, "m", requests, requests, 0, 10, 5, Decimal(cost), *categories)


def test_compare_is_exact_and_lists_absent_rows_and_duplicates():
    sink = reconcile._Collector()
    expected = reconcile._keyed([_row(T, "a", 3, "0.0000000003")], "x", sink)
    actual = reconcile._keyed(
        [
            _row(T, "a", 3, "0.0000000004"),
            _row(T, "b", 1, "1"),
            _row(T, "b", 1, "1"),  # the grain twice
        ],
        "hourly",
        sink,
    )
    reconcile._compare("x", expected, actual, sink)
    iso = T.isoformat()
    assert sink.listed[0] == reconcile.Difference("hourly", iso, "b", "m", "rows", 1, 2)
    assert (
        reconcile.Difference(
            "x", iso, "a", "m", "cost_usd", Decimal("0.0000000003"), Decimal("0.0000000004")
        )
        in sink.listed
    )
    assert reconcile.Difference("x", iso, "b", "m", "requests", None, 1) in sink.listed
    assert sink.total == 1 + 1 + len(reconcile.MEASURES)  # b absent: every measure differs
    # PostgreSQL's sum(bigint) is numeric: an integral Decimal equals the int.
    assert reconcile._measure("requests", Decimal("5")) == 5
    # A float cost is never "close enough".
    assert reconcile._measure("cost_usd", 0.1) != Decimal("0.1")


def test_listing_is_capped_and_json_safe():
    sink = reconcile._Collector()
    for n in range(reconcile.MAX_LISTED + 7):
        sink.add(reconcile.Difference("x", str(n), None, None, "cost_usd", Decimal("1.5"), None))
    report = reconcile.ReconciliationReport(
        passed=False, checked={"hours": 1}, differences=tuple(sink.listed),
        total_differences=sink.total,
    )  # fmt: skip
    metadata = json.loads(json.dumps(report.metadata()))
    assert metadata["total_differences"] == reconcile.MAX_LISTED + 7
    assert len(metadata["differences"]) == reconcile.MAX_LISTED
    assert metadata["differences"][0]["expected"] == "1.5"


def test_suite_refuses_a_cost_finer_than_the_stored_scale():
    expected = Expected(1, 1, 1, Decimal("0.00000000001"), T)
    with pytest.raises(QualityInputError, match="more than 10 decimals"):
        _suite("hourly", SUITES["hourly"], [(T, T + H)], expected)
