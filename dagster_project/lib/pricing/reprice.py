"""Reprice: re-cost a model's stored events in [start, end) with the prices as they are NOW.

    report = reprice(url, "openai/gpt-4o@2024-08-06", start, end, dry_run=False)

After a price correction (app.correct_model_price) the events costed with the superseded
version keep their cost until an operator reprices them: the correction is explicit and audited,
a repricing too. docs/pricing.md has the runbook. Set-based, in PostgreSQL, one transaction:

  lock      app.model_prices SHARE, app.usage_events SHARE ROW EXCLUSIVE (sql/reprice_lock.sql
            says why): no price change, no ingestion INSERT and no other reprice can interleave,
            so nothing is applied twice and no rollup update is lost. Ingestion waits (it does
            not fail) for the few seconds a reprice takes; lock_timeout bounds our own wait.
  plan      every event of the model in range, with the version it would get now and its
            recomputed category costs (sql/reprice_plan.sql, its category lists rendered from
            CATEGORIES; each cost is categories.cost_sql, the text ingestion costs with). An
            event the current prices cannot cost (no version, or a count in a category its
            version does not offer) stops the reprice: nothing is changed.
  events    UPDATE the events whose version or any cost differs (cost_usd unless the provider's).
  rollups   app.usage_hourly / usage_daily of the affected (organization, hour) groups and
            their days rebuilt from the events by app.rebuild_usage_rollups (replace, not add).
  touched   the affected (organization, hour) pairs upserted into ingest.touched_event_hours, so
            the warehouse loader and late_events_sensor re-roll them (the hours' usage_hourly
            fingerprints changed too, so stale_hours finds them as well).
  audit     one app.audit_log row, action prices.reprice, with the before/after totals.

Idempotent: a second run plans the same versions and costs, finds nothing that differs, changes
nothing and writes no audit row. A dry run plans without locking, in one REPEATABLE READ
snapshot, and rolls back: same figures, nothing changed.

Run as the DATABASE_URL admin role (like the migrations): the events and the rollups are under
row-level security and owned by platform_owner, and no service role may update them.

One race is left, by design, to a second run: ingestion prices a batch with the versions it read
when the batch started. An ingest transaction that read the old version before a correction
committed and inserts after the reprice stores the superseded version; a reprice of its range
afterwards re-costs it (report.superseded_after counts such events in range when it happens).
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from dagster_project.lib.db.postgres import connect
from dagster_project.lib.errors import InvalidInput
from dagster_project.lib.pricing.categories import CATEGORIES, cost_sql
from dagster_project.lib.pricing.versions import PricingError, resolve_model
from dagster_project.lib.sqlfiles import read_sql

LOCK_TIMEOUT = "30s"  # how long a reprice waits for in-flight ingestion before giving up


@dataclass
class Stage:
    stage: str
    seconds: float
    summary: str


@dataclass
class RepriceReport:
    model: str
    start: datetime
    end: datetime
    dry_run: bool
    events_in_range: int = 0
    events_changed: int = 0
    price_version_changed: int = 0
    provider_cost_events: int = 0
    cost_before: Decimal = Decimal(0)  # every event of the model in range
    cost_after: Decimal = Decimal(0)
    changed_cost_before: Decimal = Decimal(0)  # the re-costed events only
    changed_cost_after: Decimal = Decimal(0)
    hours: int = 0  # (organization, hour) pairs touched
    old_price_ids: list[int] = field(default_factory=list)
    new_price_ids: list[int] = field(default_factory=list)
    hourly_rows: int = 0
    daily_rows: int = 0
    superseded_after: int = 0
    audit_id: int | None = None
    stages: list[Stage] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.events_changed > 0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(start=self.start.isoformat(), end=self.end.isoformat())
        for key in ("cost_before", "cost_after", "changed_cost_before", "changed_cost_after"):
            out[key] = str(out[key])
        return out


def reprice(
    url: str,
    model: str,
    start: datetime,
    end: datetime,
    *,
    dry_run: bool = False,
    actor: str | None = None,
    on_stage: Callable[[Stage], None] | None = None,
) -> RepriceReport:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("--from and --to need a time zone (or Z)")
    if start >= end:
        raise InvalidInput(f"--from {start.isoformat()} is not before --to {end.isoformat()}")
    with connect(url) as conn:
        ref = resolve_model(conn, model)
        conn.rollback()  # the lookup's transaction; the reprice's own starts below
        report = RepriceReport(ref.ref, start, end, dry_run)
        clock = _Clock(report, on_stage)
        params = {"model_id": ref.id, "start": start, "end": end}
        if dry_run:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with conn.transaction() as tx:
                if not dry_run:
                    conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    conn.execute(_sql("reprice_lock.sql"))
                    clock.done("lock", "prices SHARE, events SHARE ROW EXCLUSIVE")
                _plan(conn, params, report, clock)
                if dry_run or not report.changed:
                    # Leaving the block with Rollback undoes everything (the plan is temporary).
                    raise psycopg.Rollback(tx)
                _apply(
                    conn,
                    params,
                    report,
                    clock,
                    actor or f"prices:{getpass.getuser()}@{socket.gethostname()}",
                )
        except psycopg.errors.LockNotAvailable:
            raise PricingError(
                f"reprice of {ref.ref}: app.usage_events or app.model_prices stayed locked for "
                f"{LOCK_TIMEOUT} (an ingestion batch, a price change or another reprice is "
                "running); run it again when it has finished"
            ) from None
        if dry_run or not report.changed:
            return report
        # After the commit: events stored meanwhile with a superseded version (see the docstring).
        report.superseded_after = conn.execute(
            "SELECT count(*) FROM app.usage_events e JOIN app.model_prices p ON p.id = e.price_id"
            " WHERE e.model_id = %(model_id)s AND e.occurred_at >= %(start)s"
            " AND e.occurred_at < %(end)s AND p.superseded_at IS NOT NULL",
            params,
        ).fetchone()[0]
        conn.rollback()
    return report


def _plan(conn: psycopg.Connection, params: dict, report: RepriceReport, clock: _Clock) -> None:
    conn.execute(plan_sql(), params)
    row = conn.execute(_sql("reprice_summary.sql")).fetchone()
    (report.events_in_range, report.events_changed, report.price_version_changed,
     report.provider_cost_events, no_price, unpriced, report.cost_before, report.cost_after,
     report.changed_cost_before, report.changed_cost_after, report.hours, report.old_price_ids,
     report.new_price_ids) = row  # fmt: skip
    if no_price or unpriced:
        examples = conn.execute(_sql("reprice_problems.sql")).fetchall()
        shown = "; ".join(f"{e} at {t.isoformat()} ({tier}): {p}" for e, t, tier, p in examples)
        raise PricingError(
            f"reprice of {report.model}: {no_price + unpriced} event(s) in range cannot be costed "
            f"with the current prices ({no_price} no_price, {unpriced} unpriced_category), e.g. "
            f"{shown}; add or correct the price version first. Nothing was changed"
        )
    clock.done(
        "plan",
        f"{report.events_in_range} event(s) in range, {report.events_changed} to re-cost "
        f"({report.price_version_changed} change price version) in {report.hours} "
        f"(organization, hour) pair(s); cost {report.cost_before} -> {report.cost_after} USD",
    )


def _apply(conn: psycopg.Connection, params: dict, report: RepriceReport, clock: _Clock,
           actor: str) -> None:  # fmt: skip
    updated = conn.execute(apply_sql(), params).rowcount
    if updated != report.events_changed:  # the locks make this impossible; never commit it
        raise RuntimeError(f"reprice updated {updated} events, planned {report.events_changed}")
    clock.done(
        "events",
        f"{updated} re-costed: {report.changed_cost_before} -> {report.changed_cost_after} USD",
    )
    report.hourly_rows, report.daily_rows = conn.execute(_sql("reprice_rollups.sql")).fetchone()
    clock.done(
        "rollups",
        f"{report.hourly_rows} usage_hourly and {report.daily_rows} usage_daily row(s) "
        "rebuilt from the events",
    )
    touched = conn.execute(_sql("reprice_touch_hours.sql")).rowcount
    clock.done("touched_hours", f"{touched} (organization, hour) pair(s) queued for re-roll")
    totals = {"events": report.events_in_range}
    report.audit_id = conn.execute(_sql("reprice_audit.sql"), {
        "actor": actor, "model": report.model,
        "before": Jsonb({**totals, "cost_usd": str(report.cost_before),
                         "changed_cost_usd": str(report.changed_cost_before),
                         "price_ids": report.old_price_ids}),
        "after": Jsonb({**totals, "cost_usd": str(report.cost_after),
                        "changed_cost_usd": str(report.changed_cost_after),
                        "price_ids": report.new_price_ids}),
        "metadata": Jsonb({
            "model": report.model, "model_id": str(params["model_id"]),
            "range": [report.start.isoformat(), report.end.isoformat()],
            "events_in_range": report.events_in_range, "events_changed": report.events_changed,
            "price_version_changed": report.price_version_changed,
            "cost_before_usd": str(report.cost_before), "cost_after_usd": str(report.cost_after),
            "hours": report.hours, "usage_hourly_rows": report.hourly_rows,
            "usage_daily_rows": report.daily_rows,
        }),
    }).fetchone()[0]  # fmt: skip
    clock.done("audit", f"app.audit_log id {report.audit_id} (prices.reprice)")


class _Clock:
    def __init__(self, report: RepriceReport, on_stage: Callable[[Stage], None] | None) -> None:
        self.report, self.on_stage, self.t = report, on_stage, time.perf_counter()

    def done(self, stage: str, summary: str) -> None:
        now = time.perf_counter()
        entry = Stage(stage, now - self.t, summary)
        self.t = now
        self.report.stages.append(entry)
        if self.on_stage:
            self.on_stage(entry)


def _sql(name: str, **parts: str) -> str:
    text = read_sql(__package__, name)
    return text.format(**parts) if parts else text


@cache
def plan_sql() -> str:
    """sql/reprice_plan.sql with its category lists rendered from CATEGORIES; each new cost is
    categories.cost_sql, the expression ingestion costs with."""
    return _sql(
        "reprice_plan.sql",
        stored_costs=", ".join(f"e.{c.cost}" for c in CATEGORIES),
        unpriced=",\n                    ".join(
            f"CASE WHEN e.{c.count} > 0 AND p.{c.rate} IS NULL THEN '{c.key}' END"
            for c in CATEGORIES
        ),
        new_costs=",\n           ".join(
            f"{cost_sql(c, f'e.{c.count}', f'p.{c.rate}')} AS new_{c.cost}" for c in CATEGORIES
        ),
        total_input=" + ".join(f"e.{c.count}::bigint" for c in CATEGORIES if c.is_input),
        new_cost_sum=" + ".join(f"new_{c.cost}" for c in CATEGORIES),
        cost_differs="\n        OR ".join(f"new_{c.cost} <> {c.cost}" for c in CATEGORIES),
    )


@cache
def apply_sql() -> str:
    """sql/reprice_apply.sql with one SET per category cost."""
    return _sql(
        "reprice_apply.sql",
        set_costs=",\n    ".join(f"{c.cost} = r.new_{c.cost}" for c in CATEGORIES),
    )
