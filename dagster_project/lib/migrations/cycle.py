"""Whole-set checks on a scratch database: the smoke cycle and the maintenance-window measure."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dagster_project.lib.db.postgres import drop_database, ensure_database, with_database
from dagster_project.lib.migrations.config import MigrateConfig, load_config
from dagster_project.lib.migrations.drivers import open_driver
from dagster_project.lib.migrations.drivers.duckdb import duckdb_path
from dagster_project.lib.migrations.errors import MigrationError
from dagster_project.lib.migrations.runner import Runner

Catalog = list[tuple[str, ...]]


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A new, empty database beside `url` (same server, or a temp DuckDB file), removed after."""
    suffix = uuid.uuid4().hex[:10]
    if url.startswith("duckdb:///"):
        path = duckdb_path(url)
        scratch = path.with_name(f"scratch_{suffix}.duckdb")
        try:
            yield f"duckdb:///{scratch}"
        finally:
            for leftover in scratch.parent.glob(f"{scratch.name}*"):
                leftover.unlink(missing_ok=True)
        return
    scratch_url = with_database(url, f"scratch_migrate_{suffix}")
    ensure_database(scratch_url)
    try:
        yield scratch_url
    finally:
        drop_database(scratch_url)


def catalog_of(url: str, config: MigrateConfig) -> Catalog:
    with open_driver(url, config.settings) as driver:
        return driver.catalog()


def catalog_diff(expected: Catalog, actual: Catalog) -> list[str]:
    """Readable lines for objects missing from or extra in `actual`."""
    expected_set, actual_set = set(expected), set(actual)
    lines = [f"- missing {' | '.join(row)}" for row in sorted(expected_set - actual_set)]
    lines += [f"+ extra   {' | '.join(row)}" for row in sorted(actual_set - expected_set)]
    return lines


@dataclass
class SmokeReport:
    target: str
    migrations: int
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def smoke(
    target: str,
    *,
    url: str | None = None,
    config: MigrateConfig | None = None,
    actor: str = "smoke-test",
) -> SmokeReport:
    """On a fresh database: for every migration up → down → up with the catalog compared at each
    step, then roll everything back and reapply; the catalog must come back identical."""
    config = config or load_config()
    base_url = config.target(target).url(url)
    with scratch_database(base_url) as scratch:
        runner = Runner(target, config=config, url=scratch, actor=actor)
        count = len(runner.migrations())
        report = SmokeReport(target, count)
        try:
            _cycle(runner, scratch, config, report)
        except MigrationError as exc:
            report.failures.append(f"stopped: {exc}")
    return report


def _cycle(runner: Runner, scratch: str, config: MigrateConfig, report: SmokeReport) -> None:
    empty = catalog_of(scratch, config)
    previous = empty
    for migration in runner.migrations():
        name = migration.name
        runner.up(steps=1)
        applied = catalog_of(scratch, config)
        runner.down(steps=1)
        _expect_same(
            report,
            f"{name}: down did not restore the catalog",
            previous,
            catalog_of(scratch, config),
        )
        runner.up(steps=1)
        _expect_same(
            report,
            f"{name}: reapply differs from first apply",
            applied,
            catalog_of(scratch, config),
        )
        previous = applied
    runner.down_all()
    _expect_same(
        report, "rollback of all migrations left objects behind", empty, catalog_of(scratch, config)
    )
    runner.up()
    _expect_same(
        report,
        "full reapply differs from the stepwise apply",
        previous,
        catalog_of(scratch, config),
    )


def _expect_same(report: SmokeReport, what: str, expected: Catalog, actual: Catalog) -> None:
    diff = catalog_diff(expected, actual)
    if diff:
        report.failures.append(what + ":\n  " + "\n  ".join(diff[:50]))


@dataclass
class WindowReport:
    target: str
    migrations: int
    apply_seconds: float
    rollback_seconds: float
    apply_window_seconds: float
    rollback_window_seconds: float

    @property
    def ok(self) -> bool:
        return (
            self.apply_seconds <= self.apply_window_seconds
            and self.rollback_seconds <= self.rollback_window_seconds
        )


def measure_window(
    target: str,
    *,
    url: str | None = None,
    config: MigrateConfig | None = None,
    actor: str = "measure-window",
) -> WindowReport:
    """Time a full apply and a full rollback on a fresh database against the seed's targets."""
    config = config or load_config()
    base_url = config.target(target).url(url)
    with scratch_database(base_url) as scratch:
        runner = Runner(target, config=config, url=scratch, actor=actor)
        started = time.monotonic()
        applied = runner.up()
        apply_seconds = time.monotonic() - started
        started = time.monotonic()
        runner.down_all()
        rollback_seconds = time.monotonic() - started
    return WindowReport(
        target,
        len(applied.steps),
        apply_seconds,
        rollback_seconds,
        config.settings.apply_window_seconds,
        config.settings.rollback_window_seconds,
    )
