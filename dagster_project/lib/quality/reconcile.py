"""Reconciliation: the warehouse's rollups against the operational database, exactly.

`reconcile_hours` checks, for every hour of the ranges and every organization x model, that
the hourly relation (by default the increment dbt just built, before publication) equals

  (a) a recomputation from the operational raw events (app.usage_events), and
  (b) the operational rollup kept by trigger (app.usage_hourly),

column by column: requests, successful_requests, failed_requests, input_tokens, output_tokens,
the count of every other token category, provider_cost_requests (exact integers), cost_usd, the
cost of every category and computed_cost_usd (exact decimals: PostgreSQL numeric and DuckDB
DECIMAL both arrive as Python Decimal, compared without rounding, so a difference of 1e-10, the
stored scale, is caught). computed_cost_usd is recomputed on the operational side as the sum of
the category costs, so a warehouse whose computed_cost_usd disagrees with its own categories
fails too. A group present on one side only is a difference too (the other side shows None).
It also checks that landing.usage_events holds, per UTC hour, as many events as the operational
database.

`reconcile_days` checks that the daily relation equals the sum of its hours in the hourly
relation and, given the operational URL, the operational app.usage_daily.

The operational side is read as `platform_loader` in one REPEATABLE READ snapshot (events and
trigger-kept rollups agree inside it). Events ingested into a checked hour after the warehouse
load and before the check are a real difference at check time: the check fails and the
late-event sensor re-rolls that hour, after which it passes.

Differences are listed check by check, each in (period, organization, model) order; a report
keeps the first MAX_LISTED for the check's metadata, and the total count.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from dagster_project.lib.pricing.categories import CATEGORIES, NEW_COUNTS
from dagster_project.lib.quality.common import (
    HOUR,
    Range,
    day_ranges,
    normalize_days,
    normalize_ranges,
    operational_cursor,
    render,
    warehouse_cursor,
)

# Enough to see the pattern of a failure in the Dagster UI without bloating run metadata
# (each listed difference is ~250 bytes of JSON).
MAX_LISTED = 50

COUNT_COLUMNS = (
    "requests",
    "successful_requests",
    "failed_requests",
    "input_tokens",
    "output_tokens",
)
# Issue 10: every token category's count and cost (lib/pricing/categories.py), the sum of the
# category costs and the events whose cost_usd is the provider's. The SQL files list them in
# this order (a row of another width fails the zip below, it cannot be compared shifted).
CATEGORY_MEASURES = (
    *NEW_COUNTS,
    *(c.cost for c in CATEGORIES),
    "computed_cost_usd",
    "provider_cost_requests",
)
MEASURES = (*COUNT_COLUMNS, "cost_usd", *CATEGORY_MEASURES)

Key = tuple[str, str, str]  # (period ISO, organization_id, model_id)
Value = int | Decimal | None


@dataclass(frozen=True)
class Difference:
    """One disagreeing value. `period` is the ISO hour (hourly checks) or day (daily checks);
    organization_id/model_id are None for per-hour totals; None in expected/actual means the
    row is absent on that side."""

    check: str
    period: str
    organization_id: str | None
    model_id: str | None
    column: str
    expected: Value
    actual: Value

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "period": self.period,
            "organization_id": self.organization_id,
            "model_id": self.model_id,
            "column": self.column,
            "expected": _json_value(self.expected),
            "actual": _json_value(self.actual),
        }


@dataclass(frozen=True)
class ReconciliationReport:
    passed: bool
    checked: dict[str, int]  # rows/groups compared, per source
    differences: tuple[Difference, ...]  # the first MAX_LISTED
    total_differences: int
    duration_seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        """JSON-safe (Decimals as exact strings) for asset-check metadata."""
        return {
            "passed": self.passed,
            "checked": dict(self.checked),
            "total_differences": self.total_differences,
            "listed_differences": len(self.differences),
            "differences": [d.as_dict() for d in self.differences],
            "duration_seconds": round(self.duration_seconds, 3),
        }


def _json_value(value: Value) -> int | str | None:
    return str(value) if isinstance(value, Decimal) else value


@dataclass
class _Collector:
    listed: list[Difference] = field(default_factory=list)
    total: int = 0

    def add(self, difference: Difference) -> None:
        self.total += 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append(difference)


# -- normalisation ------------------------------------------------------------------------------


def _period(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # only from a TIMESTAMP (no zone) column: taken as UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _measure(column: str, value: Any) -> Value:
    if value is None:
        return None
    if column.endswith("_usd"):
        # Decimal(float) is the float's exact binary value: a DOUBLE cost never passes by luck.
        return value if isinstance(value, Decimal) else Decimal(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)  # PostgreSQL sum(bigint) is numeric
    return value


def _keyed(rows: Iterable[Sequence[Any]], check: str, sink: _Collector) -> dict[Key, tuple]:
    """rows of (period, organization_id, model_id, *MEASURES) -> {key: measures}; a grain
    that occurs twice is itself a difference (column 'rows')."""
    keyed: dict[Key, tuple] = {}
    seen: Counter[Key] = Counter()
    for row in rows:
        key = (_period(row[0]), str(row[1]), str(row[2]))
        seen[key] += 1
        if key not in keyed:
            keyed[key] = tuple(_measure(c, v) for c, v in zip(MEASURES, row[3:], strict=True))
    for key, count in sorted(seen.items()):
        if count > 1:
            sink.add(Difference(check, *key, "rows", 1, count))
    return keyed


def _compare(
    check: str, expected: dict[Key, tuple], actual: dict[Key, tuple], sink: _Collector
) -> None:
    absent = (None,) * len(MEASURES)
    for key in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(key, absent), actual.get(key, absent)
        for column, w, g in zip(MEASURES, want, got, strict=True):
            if w != g or (w is None) != (g is None):
                sink.add(Difference(check, *key, column, w, g))


def _hours(ranges: Sequence[Range]) -> int:
    return sum(int((end - start) / HOUR) for start, end in ranges)


# -- public -------------------------------------------------------------------------------------


def reconcile_hours(
    operational_url: str,
    warehouse_url: str,
    ranges: Iterable[Sequence[datetime | str]],
    *,
    hourly_relation: str = "increment.usage_hourly_increment",
    landing_relation: str = "landing.usage_events",
) -> ReconciliationReport:
    """The hourly relation against the operational events and rollup, and landing's event
    counts per hour against the operational ones, for every hour of `ranges` ([start, end)
    pairs, hour-aligned, ISO strings or aware datetimes)."""
    started = time.monotonic()
    merged = normalize_ranges(ranges)
    sink = _Collector()

    with operational_cursor(operational_url) as conn:
        event_rows = conn.execute(render("operational_hourly_events.sql", merged)).fetchall()
        rollup_rows = conn.execute(render("operational_hourly_rollup.sql", merged)).fetchall()
    with warehouse_cursor(warehouse_url) as conn:
        hourly_sql = render("warehouse_hourly.sql", merged, relation=hourly_relation)
        hourly_rows = conn.execute(hourly_sql).fetchall()
        landing_sql = render("warehouse_landing_counts.sql", merged, relation=landing_relation)
        landing_rows = conn.execute(landing_sql).fetchall()

    events = _keyed(event_rows, "hourly_vs_events", sink)
    rollup = _keyed(rollup_rows, "hourly_vs_rollup", sink)
    hourly = _keyed(hourly_rows, "hourly", sink)
    _compare("hourly_vs_events", events, hourly, sink)
    _compare("hourly_vs_rollup", rollup, hourly, sink)

    operational_per_hour: Counter[str] = Counter()
    for (hour, _org, _model), measures in events.items():
        operational_per_hour[hour] += measures[0]
    landed = {_period(hour): int(count) for hour, count in landing_rows}
    for hour in sorted(operational_per_hour.keys() | landed.keys()):
        want, got = operational_per_hour.get(hour), landed.get(hour)
        if want != got:
            sink.add(Difference("landing_vs_events", hour, None, None, "events", want, got))

    return ReconciliationReport(
        passed=sink.total == 0,
        checked={
            "hours": _hours(merged),
            "warehouse_rows": len(hourly_rows),
            "event_groups": len(events),
            "rollup_rows": len(rollup),
            "landing_hours": len(operational_per_hour.keys() | landed.keys()),
        },
        differences=tuple(sink.listed),
        total_differences=sink.total,
        duration_seconds=time.monotonic() - started,
    )


def reconcile_days(
    warehouse_url: str,
    days: Iterable[date | str],
    *,
    daily_relation: str = "increment.usage_daily_increment",
    hourly_relation: str = "marts.usage_hourly",
    operational_url: str | None = None,
) -> ReconciliationReport:
    """The daily relation against the sum of its hours in `hourly_relation` and, when
    `operational_url` is given, against the operational app.usage_daily, for each UTC day."""
    started = time.monotonic()
    day_list = normalize_days(days)
    ranges = day_ranges(day_list)
    sink = _Collector()

    with warehouse_cursor(warehouse_url) as conn:
        daily_rows = conn.execute(
            render("warehouse_daily.sql", days=day_list, relation=daily_relation)
        ).fetchall()
        hour_rows = conn.execute(
            render("warehouse_hours_by_day.sql", ranges, relation=hourly_relation)
        ).fetchall()
    rollup_rows: list = []
    if operational_url is not None:
        with operational_cursor(operational_url) as conn:
            rollup_rows = conn.execute(
                render("operational_daily_rollup.sql", days=day_list)
            ).fetchall()

    daily = _keyed(daily_rows, "daily", sink)
    _compare("daily_vs_hours", _keyed(hour_rows, "daily_vs_hours", sink), daily, sink)
    checked = {"days": len(day_list), "warehouse_rows": len(daily_rows),
               "hour_groups": len(hour_rows)}  # fmt: skip
    if operational_url is not None:
        _compare("daily_vs_rollup", _keyed(rollup_rows, "daily_vs_rollup", sink), daily, sink)
        checked["rollup_rows"] = len(rollup_rows)

    return ReconciliationReport(
        passed=sink.total == 0,
        checked=checked,
        differences=tuple(sink.listed),
        total_differences=sink.total,
        duration_seconds=time.monotonic() - started,
    )
