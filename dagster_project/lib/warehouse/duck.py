"""DuckDB warehouse target: ADBC record batches from the operational snapshot, streamed into
DuckDB in one DuckDB transaction. Numeric arrives from ADBC as text and is cast to the landing
column's DECIMAL (exact); uuid (arrow.uuid) and timestamptz (UTC microseconds) arrive exact."""

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
    return duckdb.connect(str(path))


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
