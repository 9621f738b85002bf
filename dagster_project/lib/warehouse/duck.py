"""DuckDB warehouse target: ADBC record batches from the operational snapshot, streamed into
DuckDB in bounded transactions of whole hours. Numeric arrives from ADBC as text and is cast to
the landing column's DECIMAL (exact); uuid (arrow.uuid) and timestamptz (UTC microseconds) arrive
exact.

landing.usage_events has no primary key on DuckDB (migrations/analytics/
202612051200_duckdb_landing_events_unkeyed: its ART index made every reload's DELETE cost ~43 µs
per row). `check_landed` keeps the key's promise inside each transaction, before COMMIT: every
inserted row lies in the replaced hours, and no (organization_id, event_id) is there twice.

Memory: one transaction per chunk of whole hours. DuckDB holds an open transaction's inserted
rows (and the duplicate check's aggregate over them) in memory it cannot evict, so ONE
transaction for the whole load grew with the load: peak RSS 344 / 451 / 504 MB at 0.5M / 1M / 2M
events (memory_limit 256MB), and with memory_limit 128MB the 2M load failed "Out of Memory"
(1M passed). So `chunks` cuts the job into contiguous hour ranges of at most CHUNK_EVENTS events
(counted by the snapshot's own fingerprint, before any copy), and each chunk is one warehouse
transaction: DELETE its hours, INSERT from its own SELECT on the same operational snapshot,
check_landed, its landing.loaded_hours rows, COMMIT. The first chunk's transaction also replaces
the dimensions (from the same snapshot, so they commit no later than any event that names them).

Atomicity is per hour, which is what a reader needs: a crash or kill -9 leaves every hour either
entirely old (with its old loaded_hours fingerprint) or entirely new (with the new one). The
fingerprint row is the idempotent marker: stale_hours names exactly the hours a killed load did
not reach, and rerunning the load (or the stale hours) repairs them; replaying committed chunks
replaces them with the same rows. An hour is never split, so a single hour above CHUNK_EVENTS is
a chunk of its own: memory is bounded by the largest hour, not by the load.
(tests/integration/test_warehouse_load.py kills a loader between two chunks.)

Rejected, measured on 2 cores with 2M events over 2 days (docs/performance.md):
  * one transaction with a lower memory_limit, threads=1 or a temp_directory: the open
    transaction's rows are not spilled; 128MB fails at 2M, threads=1 gave 413 / 579 MB at 1M / 2M.
  * staging table committed in chunks, then one DELETE + INSERT ... SELECT from it: the final
    transaction still holds every row; 243 / 272 MB at 1M / 2M for that statement alone, before
    the duplicate check (which then failed with 128MB), and it writes every row twice.
  * checkpoint per commit (wal_autocheckpoint's default 16MB) with small chunks: 100k-row chunks
    spent ~130 ms a COMMIT on the checkpoint (20 commits, 2.6 s of a 9 s load).
  * small chunks (100k-200k events): flattest RSS (304-364 MB) but each chunk's SELECT rescans
    its day partitions (no occurred_at index on the operational side): 0.5-0.6 of the rate."""

from __future__ import annotations

import dataclasses
from typing import Any

import duckdb
import pyarrow as pa

from dagster_project.lib.db.postgres import connect_adbc
from dagster_project.lib.migrations.drivers.duckdb import duckdb_path
from dagster_project.lib.rollup.ranges import HOUR, HourRange
from dagster_project.lib.warehouse import common
from dagster_project.lib.warehouse.common import Job, Landed
from dagster_project.lib.warehouse.errors import WarehouseError
from dagster_project.lib.warehouse.export import SET_PADS, ExportTable, select_sql

# The loader's DuckDB settings, each measured on 2 cores with 0.5M / 1M / 2M events
# (docs/performance.md "Warehouse load"):
LOADER_SETTINGS = (
    # The buffer pool: with chunks it holds one chunk's pinned rows plus cached blocks. 96MB with
    # 500k-event chunks: 350 / 382 / 406 MB peak RSS at 0.5M / 1M / 2M (medians of 3; the single
    # transaction: 343 / 452 / 509); 128MB: 404 / 447 MB at 1M / 2M (+11%); 64MB with 250k-event
    # chunks failed "Out of Memory" in the duplicate check.
    "SET memory_limit = '96MB'",
    # Landing's rows have no order that matters; keeping it cost RSS (1M / 2M in one transaction:
    # 495 / 583 MB with DuckDB's defaults, 423 / 511 MB without order or the 256MB limit).
    "SET preserve_insertion_order = false",
    # checkpoint_threshold stays DuckDB's 16MB: raising it to 256MB saved the checkpoint most
    # small chunks' COMMITs paid (~130 ms each), but after kill -9 a read-only open (an analyst)
    # then failed replaying the WAL ("Could not write file"); with 500k-event chunks a 2M load
    # commits 4 times.
)
# Events per warehouse transaction (whole hours, so an hour above it is a chunk of its own).
# Each chunk is its own SELECT, and app.usage_events has no index on occurred_at, so a chunk
# rescans its day partitions: 200k-event chunks kept RSS as flat (355 / 364 MB at 1M / 2M) but
# ran at 0.52-0.57 of one transaction's rate, 350k at ~0.7; 500k ran at ~0.9-1.0.
CHUNK_EVENTS = 500_000
# Hours per warehouse transaction: each hour has a landing.loaded_hours row, empty or not, and a
# century's range (876k hours, as the tests load) held in one transaction ran out of the 96MB.
CHUNK_HOURS = 50_000
LANDING_TYPES = (
    "SELECT table_name, column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = 'landing'"
)


def connect(warehouse_url: str) -> duckdb.DuckDBPyConnection:
    path = duckdb_path(warehouse_url)
    if not path.exists():
        raise WarehouseError(
            f"{path}: no warehouse; run `platformctl migrate up --target analytics`"
        )
    conn = duckdb.connect(str(path))
    for setting in LOADER_SETTINGS:
        conn.execute(setting)
    return conn


def load(operational_url: str, warehouse_url: str, job: Job) -> Landed:
    # The DuckDB file first: one writer process holds it, so a second loader fails here, before
    # it takes a snapshot that would be older than the first loader's.
    with connect(warehouse_url) as wh:
        types = landing_types(wh)
        with (
            connect_adbc(operational_url, autocommit=True) as op,
            op.cursor() as cur,
        ):
            return _load(cur, wh, job, types)


def _load(cur: Any, wh: duckdb.DuckDBPyConnection, job: Job, types: dict) -> Landed:
    open_snapshot(cur, job.pads)
    landed = Landed()
    cur.execute(
        common.sql_text("fingerprint.sql", ranges=common.ranges_predicate("hour", job.ranges))
    )
    landed.fingerprint = common.fingerprint_rows(cur.fetchall())
    for number, chunk in enumerate(chunks(job, landed.fingerprint)):
        wh.execute("BEGIN")
        events_where = common.ranges_predicate("occurred_at", chunk.ranges)
        wh.execute(f"DELETE FROM landing.usage_events WHERE {events_where}")
        part = Landed(fingerprint=landed.fingerprint)
        part.events = copy(cur, wh, job.events, types, events_where)
        part.landed_per_hour = landed_per_hour(wh, chunk)
        check_landed(wh, chunk, part)
        write_loaded_hours(wh, chunk, part)
        if number == 0:  # the dimensions commit with the first hours of the snapshot
            for table in job.dimensions:
                wh.execute(f"DELETE FROM {table.target}")
                landed.dimensions[table.name] = copy(cur, wh, table, types, None)
        wh.execute("COMMIT")
        landed.events += part.events
        landed.landed_per_hour.update(part.landed_per_hour)
    cur.execute("COMMIT")
    return landed


def chunks(job: Job, fingerprint: dict) -> list[Job]:
    """The job cut into contiguous hour ranges of at most CHUNK_EVENTS events (by the snapshot's
    fingerprint) and CHUNK_HOURS hours each, each loaded in its own warehouse transaction. An
    hour is never split: an hour holding more than CHUNK_EVENTS events is a chunk of its own."""
    out = []
    span = CHUNK_HOURS * HOUR
    for whole in job.ranges:
        start, events = whole.start, 0
        for hour in sorted(h for h in fingerprint if whole.start <= h < whole.end):
            while hour - start >= span:
                out.append(HourRange(start, start + span))
                start, events = start + span, 0
            n = fingerprint[hour][0]
            if events and events + n > CHUNK_EVENTS:
                out.append(HourRange(start, hour))
                start, events = hour, 0
            events += n
        while whole.end - start > span:
            out.append(HourRange(start, start + span))
            start += span
        out.append(HourRange(start, whole.end))
    return [dataclasses.replace(job, ranges=(r,)) for r in out]


def open_snapshot(cur: Any, pads: tuple[str, str]) -> None:
    cur.execute(f"SET ROLE {common.LOADER_ROLE}")
    cur.execute(common.SNAPSHOT)
    cur.execute(SET_PADS.replace("%s", "$1", 1).replace("%s", "$2", 1), pads)
    cur.fetchall()


def landing_types(wh: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    types: dict[str, dict[str, str]] = {}
    for table, column, data_type in wh.execute(LANDING_TYPES).fetchall():
        types.setdefault(table, {})[column] = data_type
    if "usage_events" not in types:
        raise WarehouseError(
            "the warehouse has no landing schema; run `platformctl migrate up --target analytics`"
        )
    return types


def copy(
    cur: Any, wh: duckdb.DuckDBPyConnection, table: ExportTable, types: dict, where: str | None
) -> int:
    """Stream the export SELECT's record batches into landing; returns the rows inserted."""
    query = select_sql(table).as_string(None)
    cur.execute(query if where is None else f"{query} WHERE {where}")
    reader = cur.fetch_record_batch()
    columns = types[table.name]
    select = ", ".join(f'CAST("{c}" AS {columns[c]}) AS "{c}"' for c in table.target_columns)
    names = ", ".join(f'"{c}"' for c in table.target_columns)
    wh.register("_export", reader)
    try:
        (rows,) = wh.execute(
            f"INSERT INTO {table.target} ({names}) SELECT {select} FROM _export"
        ).fetchone()
    finally:
        wh.unregister("_export")
    return int(rows)


def landed_per_hour(wh: duckdb.DuckDBPyConnection, job: Job) -> dict:
    query = common.sql_text(
        "landed_per_hour.sql", ranges=common.ranges_predicate("occurred_at", job.ranges)
    )
    return {common.utc(h): int(n) for h, n in wh.execute(query).fetchall()}


def check_landed(wh: duckdb.DuckDBPyConnection, job: Job, landed: Landed) -> None:
    """Raise (the caller then never commits) when the copy put a row outside the hours it
    replaced or an event into them twice: what the primary key refuses on PostgreSQL."""
    in_ranges = sum(landed.landed_per_hour.values())
    if in_ranges != landed.events:
        raise WarehouseError(
            f"the load inserted {landed.events} events but the hours it replaced now hold "
            f"{in_ranges}: rows outside {', '.join(map(str, job.ranges))}; nothing was written"
        )
    query = common.sql_text(
        "duplicate_events.sql", ranges=common.ranges_predicate("occurred_at", job.ranges)
    )
    duplicates = wh.execute(query).fetchall()
    if duplicates:
        listed = ", ".join(f"{org}/{event} x{n}" for org, event, n in duplicates)
        raise WarehouseError(
            f"events copied more than once (organization/event_id): {listed}; nothing was written"
        )


def write_loaded_hours(wh: duckdb.DuckDBPyConnection, job: Job, landed: Landed) -> None:
    wh.execute(
        f"DELETE FROM landing.loaded_hours WHERE {common.ranges_predicate('hour_start', job.ranges)}"
    )
    rows = common.loaded_hours_rows(job, landed.fingerprint)
    table = pa.Table.from_pylist(
        [dict(zip(common.LOADED_HOURS_COLUMNS, row, strict=True)) for row in rows],
        schema=pa.schema([("hour_start", pa.timestamp("us", "UTC")), ("events", pa.int64()),
                          ("cost_usd", pa.decimal128(38, 10)), ("loaded_at", pa.timestamp("us", "UTC")),
                          ("load_id", pa.string())]),
    )  # fmt: skip
    wh.register("_hours", table)
    try:
        wh.execute("INSERT INTO landing.loaded_hours SELECT * FROM _hours")
    finally:
        wh.unregister("_hours")


def read(warehouse_url: str, query: str) -> list[tuple]:
    with connect(warehouse_url) as wh:
        return wh.execute(query).fetchall()
