"""DuckDB warehouse target: ADBC record batches from the operational snapshot, streamed into
DuckDB in one DuckDB transaction. Numeric arrives from ADBC as text and is cast to the landing
column's DECIMAL (exact); uuid (arrow.uuid) and timestamptz (UTC microseconds) arrive exact.

landing.usage_events has no primary key on DuckDB (migrations/analytics/
202612051200_duckdb_landing_events_unkeyed: its ART index made every reload's DELETE cost ~43 µs
per row). `check_landed` keeps the key's promise inside the transaction, before COMMIT: every
inserted row lies in the replaced hours, and no (organization_id, event_id) is there twice."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from dagster_project.lib.db.postgres import connect_adbc
from dagster_project.lib.migrations.drivers.duckdb import duckdb_path
from dagster_project.lib.warehouse import common
from dagster_project.lib.warehouse.common import Job, Landed
from dagster_project.lib.warehouse.errors import WarehouseError
from dagster_project.lib.warehouse.export import SET_PADS, ExportTable, select_sql

# The loader's DuckDB settings: a bounded buffer pool and no insertion order (landing's rows
# have none that matters). Measured on 2 cores, loading 1M / 2M events in one transaction: peak
# RSS 495 / 583 MB with DuckDB's defaults, 423 / 511 MB with these, the rate unchanged or
# better. The slope (~90 MB per million rows) remains: DuckDB keeps per-row state of the open
# transaction's insert (docs/performance.md "Warehouse load"); the PostgreSQL target is flat.
LOADER_SETTINGS = ("SET memory_limit = '256MB'", "SET preserve_insertion_order = false")
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
    wh.execute("BEGIN")
    events_where = common.ranges_predicate("occurred_at", job.ranges)
    wh.execute(f"DELETE FROM landing.usage_events WHERE {events_where}")
    landed.events = copy(cur, wh, job.events, types, events_where)
    landed.landed_per_hour = landed_per_hour(wh, job)
    check_landed(wh, job, landed)
    write_loaded_hours(wh, job, landed)
    for table in job.dimensions:
        wh.execute(f"DELETE FROM {table.target}")
        landed.dimensions[table.name] = copy(cur, wh, table, types, None)
    wh.execute("COMMIT")
    cur.execute("COMMIT")
    return landed


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
