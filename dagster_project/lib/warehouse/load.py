"""Copy usage events, by whole UTC hours, and the dimensions into the warehouse's landing schema.

    report = load_hours(operational_url, warehouse_url, [(start, end)], pseudonym_key=key, load_id=run_id)
    stale = stale_hours(operational_url, warehouse_url, since, until)       # exact backstop
    ranges = touched_hour_ranges(operational_url, since, lookback=timedelta(minutes=15))

Design: whole-hour replace from one snapshot, checked by fingerprints.
  * One operational transaction, REPEATABLE READ READ ONLY, as platform_loader (a role that owns
    nothing and may only SELECT; see migrations/operational/202612041020_warehouse_loader_role),
    reads the events of the requested hours, the dimensions, and each hour's fingerprint from
    app.usage_hourly (sum of requests, sum of cost_usd). The rollup is kept by a trigger in the
    same transaction as the events it counts, so within one snapshot the fingerprint describes
    exactly the events the snapshot shows.
  * One warehouse transaction deletes those hours from landing.usage_events, inserts the copied
    rows, upserts landing.loaded_hours (the fingerprint, loaded_at, load_id) and replaces the
    dimensions whole. A crash anywhere (loader killed, connection lost) commits nothing; a replay
    of the same hours replaces them with the same rows. On DuckDB, whose open transaction holds
    its rows in memory, that transaction is one per chunk of whole hours (duck.CHUNK_EVENTS; the
    dimensions with the first), all from the one snapshot: a crash leaves each hour entirely old
    or entirely new, with the matching loaded_hours row, so stale_hours names what to rerun. On PostgreSQL the transaction holds
    pg_advisory_xact_lock(7346001), the lock every warehouse writer takes, before the snapshot
    is taken (so serialised loaders copy ever newer snapshots); on DuckDB the file itself admits
    one writer process. Every DuckDB handle is closed before returning.
  * (organization_id, event_id), the operational idempotency key, is landing.usage_events'
    primary key on PostgreSQL: a row copied twice fails the load instead of counting twice. On
    DuckDB, where a keyed table's DELETE costs ~43 µs per row, the loader checks the same before
    it commits (duck.check_landed).

Why not a watermark. A loader that remembers max(sequence) or max(received_at) and next copies
the rows above it loses rows when transactions commit out of order: ingester A takes its
received_at (or a sequence value) at 10:00:00, ingester B at 10:00:01; B commits first; a load at
10:00:02 sees B's rows and moves the watermark past 10:00:01; A commits at 10:00:03 with rows
stamped 10:00:00, below the watermark: never copied (tests/integration/test_warehouse_load.py
reproduces it with the real ingestion code). A value assigned inside a transaction says nothing
about when that transaction becomes visible.

What we do instead. A load never asks "what is new since last time": it replaces whole hours with
what one snapshot holds, so whatever committed before the snapshot is in, exactly once, and what
commits after it changes the hour's fingerprint. Two ways find the hours to reload:
  * touched_hour_ranges: ingestion upserts ingest.touched_event_hours in the same transaction as
    the events, with last_touched_at = now(). now() is the START of the touching transaction,
    so a transaction that started before our previous load and committed after it carries a
    last_touched_at older than that load. Hence `since - lookback`, the lookback covering the
    longest ingest transaction (one chunk: seconds; configs/ingest.yaml batch_size). It is the
    cheap, prompt signal for a late-event sensor, not the proof.
  * stale_hours: the exact backstop. Every committed event adds at least one request to its
    hour's app.usage_hourly row, so an hour whose operational fingerprint differs from the one
    recorded in landing.loaded_hours has changed since its load (or was never loaded), whatever
    the commit order, lookback or clock. A periodic stale_hours over the retained window finds
    anything the sensor missed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dagster_project.lib.db.postgres import connect
from dagster_project.lib.rollup.late import touched_since
from dagster_project.lib.rollup.ranges import (
    HOUR,
    HourRange,
    RangeError,
    collapse,
    floor_hour,
    iso,
    merge,
)
from dagster_project.lib.warehouse import common
from dagster_project.lib.warehouse.errors import WarehouseError
from dagster_project.lib.warehouse.export import export_plan, pads

RangeLike = HourRange | Sequence[datetime]


@dataclass
class LoadReport:
    load_id: str
    target: str  # duckdb | postgres
    ranges: list[str]
    hours: int
    events: int  # rows copied into landing.usage_events
    fingerprint_events: int  # app.usage_hourly's requests over the same hours, same snapshot
    fingerprint_cost_usd: Decimal
    mismatched_hours: list[datetime]  # hours whose copied rows differ from the fingerprint
    dimensions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fingerprint_cost_usd"] = str(self.fingerprint_cost_usd)
        out["mismatched_hours"] = [iso(h) for h in self.mismatched_hours]
        return out


def load_hours(
    operational_url: str,
    warehouse_url: str,
    ranges: Iterable[RangeLike],
    *,
    pseudonym_key: bytes | str,
    load_id: str,
) -> LoadReport:
    """Replace the UTC hours of `ranges` ([start, end) pairs, hour-aligned) and every dimension
    in the warehouse with what one operational snapshot holds. All or nothing."""
    job = common.Job(normalise_ranges(ranges), export_plan(), pads(_key_bytes(pseudonym_key)),
                     _load_id(load_id))  # fmt: skip
    target = _target(warehouse_url)
    started = time.perf_counter()
    landed = target.load(operational_url, warehouse_url, job)
    return _report(job, landed, target.__name__.rsplit(".", 1)[1], time.perf_counter() - started)


def stale_hours(
    operational_url: str, warehouse_url: str, since: datetime, until: datetime
) -> list[datetime]:
    """UTC hours in [since, until) whose operational fingerprint (app.usage_hourly) differs from
    landing.loaded_hours, including hours with events that were never loaded."""
    window = HourRange(floor_hour(_aware(since, "since")), _ceil_hour(_aware(until, "until")))
    with connect(operational_url, autocommit=True) as op:
        op.execute(f"SET ROLE {common.LOADER_ROLE}")
        query = common.sql_text("fingerprint.sql", ranges=common.ranges_predicate("hour", [window]))
        operational = common.fingerprint_rows(op.execute(query).fetchall())
    query = common.sql_text(
        "loaded_hours.sql", ranges=common.ranges_predicate("hour_start", [window])
    )
    loaded = common.fingerprint_rows(_target(warehouse_url).read(warehouse_url, query))
    zero = (0, Decimal(0))
    return sorted(h for h in operational.keys() | loaded.keys()
                  if operational.get(h, zero) != loaded.get(h, zero))  # fmt: skip


def touched_hour_ranges(
    operational_url: str, since: datetime, *, lookback: timedelta
) -> list[HourRange]:
    """Hours that ingestion touched in transactions started at or after `since - lookback`,
    collapsed into contiguous [start, end) ranges (one reload per range, not per hour)."""
    if lookback < timedelta(0):
        raise WarehouseError(f"lookback {lookback} is negative")
    touches = touched_since(operational_url, _aware(since, "since") - lookback)
    return collapse(t.event_hour for t in touches)


def normalise_ranges(ranges: Iterable[RangeLike]) -> tuple[HourRange, ...]:
    try:
        out = [r if isinstance(r, HourRange) else HourRange(*r) for r in ranges]
    except (RangeError, TypeError) as exc:
        raise WarehouseError(f"bad hour range: {exc}") from None
    if not out:
        raise WarehouseError("no hour ranges to load")
    return tuple(merge(out))


def _report(job: common.Job, landed: common.Landed, target: str, seconds: float) -> LoadReport:
    fingerprint = landed.fingerprint
    mismatched = [h for h in job.hours()
                  if landed.landed_per_hour.get(h, 0) != fingerprint.get(h, (0, 0))[0]]  # fmt: skip
    return LoadReport(
        load_id=job.load_id, target="duckdb" if target == "duck" else "postgres",
        ranges=[str(r) for r in job.ranges], hours=len(job.hours()), events=landed.events,
        fingerprint_events=sum(n for n, _ in fingerprint.values()),
        fingerprint_cost_usd=sum((c for _, c in fingerprint.values()), Decimal(0)),
        mismatched_hours=mismatched, dimensions=landed.dimensions, seconds=seconds,
    )  # fmt: skip


def _target(warehouse_url: str):
    if warehouse_url.startswith("duckdb:"):
        from dagster_project.lib.warehouse import duck

        return duck
    from dagster_project.lib.db.postgres import is_postgres, redact

    if is_postgres(warehouse_url):
        from dagster_project.lib.warehouse import pg

        return pg
    raise WarehouseError(f"unsupported warehouse URL {redact(warehouse_url)}; "
                         "expected duckdb:///path or postgresql://...")  # fmt: skip


def _key_bytes(key: bytes | str) -> bytes:
    return key.encode() if isinstance(key, str) else bytes(key)


def _load_id(load_id: str) -> str:
    if not load_id or not load_id.strip():
        raise WarehouseError("load_id is empty")
    return load_id


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise WarehouseError(f"{name} {moment.isoformat()} has no time zone; give UTC")
    return moment


def _ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR
