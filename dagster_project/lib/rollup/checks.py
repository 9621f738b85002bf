"""The blocking checks of a rollup run, as the Dagster checks and `platformctl rollup` run them:
reconciliation (lib/quality/reconcile.py) and the Great Expectations suites
(lib/quality/expectations.py) on the hours or days a run rebuilt, before they are published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagster_project.lib.rollup.ranges import HourRange


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    summary: str
    metadata: dict[str, Any]


def hourly_reconciliation(
    operational_url: str, warehouse_url: str, hours: HourRange
) -> CheckOutcome:
    """increment.usage_hourly_increment = app.usage_events = app.usage_hourly for every hour,
    organization and model; landing's events per hour = the operational ones."""
    from dagster_project.lib.quality.reconcile import reconcile_hours

    report = reconcile_hours(operational_url, warehouse_url, [_pair(hours)])
    return _reconciled("hourly_reconciles", report)


def daily_reconciliation(
    operational_url: str, warehouse_url: str, hours: HourRange
) -> CheckOutcome:
    """increment.usage_daily_increment = the sum of its hours in marts.usage_hourly =
    app.usage_daily, for every day of `hours`."""
    from dagster_project.lib.quality.reconcile import reconcile_days

    report = reconcile_days(warehouse_url, hours.day_list(), operational_url=operational_url)
    return _reconciled("daily_reconciles", report)


def suite(
    operational_url: str,
    warehouse_url: str,
    name: str,
    hours: HourRange,
    build_id: str | None = None,
) -> CheckOutcome:
    """The Great Expectations suite `name` (landing | hourly | daily) on the rows of `hours`."""
    from dagster_project.lib.quality.expectations import expected_totals, validate

    ranges = [_pair(hours)]
    expected = expected_totals(
        operational_url,
        ranges,
        whole_days=name == "daily",
        build_id=None if name == "landing" else build_id,
    )
    result = validate(warehouse_url, name, ranges, expected)
    failed = [e["expectation"] for e in result.failed_expectations]
    return CheckOutcome(
        f"great_expectations_{name}",
        result.passed,
        "all expectations met" if result.passed else f"failed: {', '.join(map(str, failed))}",
        result.metadata(),
    )


def _reconciled(name: str, report) -> CheckOutcome:
    summary = (
        f"{report.checked} equal"
        if report.passed
        else f"{report.total_differences} difference(s), first: {report.differences[0].as_dict()}"
    )
    return CheckOutcome(name, report.passed, summary, report.metadata())


def _pair(hours: HourRange) -> tuple:
    return (hours.start, hours.end)
