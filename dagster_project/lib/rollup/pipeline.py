"""One rollup of a range of UTC hours, outside Dagster (`platformctl rollup`, `make
analytics-verify`): the same stages, in the same order, as the Dagster jobs run them.

    load      landing := the operational events of the range's hours (lib/warehouse)
    rebuild   dbt: staging views, increment.* := the range's hours and days
    check     reconciliation + Great Expectations on landing and the increments (lib/quality)
    publish   dbt: marts.* take over the increments' hours and days, analyst views
    snapshot  DuckDB only: the marts copied to the file analysts open (lib/rollup/snapshot.py)

A failed check stops before `publish`: the marts stay on the last good state. Long ranges go in
chunks of CHUNK (one dbt invocation per stage per chunk), so memory and each transaction stay
bounded and progress can be shown.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from dagster_project.lib.db import urls
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.rollup import steps
from dagster_project.lib.rollup.dbt import run_dbt
from dagster_project.lib.rollup.ranges import HourRange, dbt_vars

# 7 days per dbt invocation: a week of hourly rollups is one set-based statement per model
# (seconds), and a month-long backfill still reports progress four times.
CHUNK = timedelta(days=7)


class RollupCheckFailed(PlatformError):
    """A blocking check failed: nothing was published."""


@dataclass
class StageResult:
    stage: str
    seconds: float
    summary: str
    passed: bool = True
    details: dict = field(default_factory=dict)


@dataclass
class RollupReport:
    range: HourRange
    build_id: str
    stages: list[StageResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.stages)


def chunks(hours: HourRange, size: timedelta = CHUNK) -> Iterator[HourRange]:
    start = hours.start
    while start < hours.end:
        end = min(start + size, hours.end)
        yield HourRange(start, end)
        start = end


def rollup(
    operational_url: str,
    warehouse_url: str,
    hours: HourRange,
    *,
    pseudonym_key: str,
    dbt_target: str | None = None,
    on_stage: Callable[[StageResult], None] = lambda _: None,
) -> RollupReport:
    """Load, rebuild, check and publish `hours`; raises RollupCheckFailed after a failed check."""
    engine = urls.dbt_target(warehouse_url, dbt_target)
    report = RollupReport(hours, f"platformctl-{uuid.uuid4()}")
    for part in chunks(hours):
        for stage in _stages(
            operational_url, warehouse_url, part, report.build_id, pseudonym_key, dbt_target
        ):
            report.stages.append(stage)
            on_stage(stage)
            if not stage.passed:
                raise RollupCheckFailed(
                    f"{stage.stage} failed for {part}: {stage.summary}; nothing of it was published"
                )
    if engine == "duckdb":
        from dagster_project.lib.migrations.drivers.duckdb import duckdb_path
        from dagster_project.lib.rollup.snapshot import publish_snapshot

        started = time.monotonic()
        snap = publish_snapshot(duckdb_path(warehouse_url))
        stage = StageResult("snapshot", _since(started), f"{snap.path} ({snap.bytes} bytes)")
        report.stages.append(stage)
        on_stage(stage)
    return report


def _stages(operational_url, warehouse_url, part, build_id, pseudonym_key, dbt_target):
    from dagster_project.lib.rollup import checks
    from dagster_project.lib.warehouse.load import load_hours

    started = time.monotonic()
    load = load_hours(
        operational_url, warehouse_url, [part], pseudonym_key=pseudonym_key, load_id=build_id
    )
    yield StageResult(
        "load", _since(started), f"{load.events} events of {part.hours} hour(s) {part}"
    )

    variables = dbt_vars([part], build_id)
    for increment, publish, outcomes in (
        (steps.HOURLY_INCREMENT, steps.HOURLY_MARTS, lambda: [
            checks.suite(operational_url, warehouse_url, "landing", part),
            checks.hourly_reconciliation(operational_url, warehouse_url, part),
            checks.suite(operational_url, warehouse_url, "hourly", part, build_id),
        ]),
        (steps.DAILY_INCREMENT, steps.DAILY_MARTS, lambda: [
            checks.daily_reconciliation(operational_url, warehouse_url, part),
            checks.suite(operational_url, warehouse_url, "daily", part, build_id),
        ]),
    ):  # fmt: skip
        grain = increment.grain
        started = time.monotonic()
        run_dbt(
            ["build", *increment.cli_args()],
            warehouse_url,
            dbt_vars=variables,
            explicit_target=dbt_target,
        )
        yield StageResult(f"rebuild {grain}", _since(started), f"increment of {part}")

        started = time.monotonic()
        results = outcomes()
        failed = [r for r in results if not r.passed]
        yield StageResult(
            f"check {grain}",
            _since(started),
            f"{len(results) - len(failed)}/{len(results)} checks passed"
            + "".join(f"; {r.name}: {r.summary}" for r in failed),
            passed=not failed,
        )

        started = time.monotonic()
        run_dbt(
            ["build", *publish.cli_args()],
            warehouse_url,
            dbt_vars=variables,
            explicit_target=dbt_target,
        )
        yield StageResult(f"publish {grain}", _since(started), publish.select)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)
