"""PostgreSQL warehouse target: binary `COPY (SELECT ...) TO STDOUT` from the operational snapshot
piped into `COPY landing.<table> FROM STDIN`, chunk by chunk (memory flat in the data size), in
one warehouse transaction that holds the warehouse writers' advisory lock. The export SELECT
casts every column to its landing type, so the binary formats agree (text[] -> varchar[]...)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from dagster_project.lib.db.postgres import connect
from dagster_project.lib.warehouse import common
from dagster_project.lib.warehouse.common import Job, Landed
from dagster_project.lib.warehouse.errors import WarehouseError
from dagster_project.lib.warehouse.export import SET_PADS, ExportTable, select_sql

# Rows arrive one CopyData message each (~150 bytes): they are written in 1 MiB pieces, fewer
# calls into libpq. Not tuned on its own: with it the load ran at the raw COPY floor's rate
# (169k vs 170k rows/s on 1M events, docs/performance.md "Warehouse load").
WRITE_CHUNK = 1 << 20
LANDING_TYPES = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'landing'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
"""


def load(operational_url: str, warehouse_url: str, job: Job) -> Landed:
    with connect(warehouse_url) as wh, wh.transaction():
        # Lock first, then the snapshot: serialised loaders copy ever newer snapshots.
        wh.execute("SELECT pg_advisory_xact_lock(%s)", (common.WAREHOUSE_LOCK,))
        types = landing_types(wh)
        with connect(operational_url, autocommit=True) as op:
            landed = _load(op, wh, job, types)
    return landed


def _load(op: psycopg.Connection, wh: psycopg.Connection, job: Job, types: dict) -> Landed:
    open_snapshot(op, job.pads)
    landed = Landed()
    query = common.sql_text("fingerprint.sql", ranges=common.ranges_predicate("hour", job.ranges))
    landed.fingerprint = common.fingerprint_rows(op.execute(query).fetchall())
    events_where = common.ranges_predicate("occurred_at", job.ranges)
    wh.execute(f"DELETE FROM landing.usage_events WHERE {events_where}")
    landed.events = pipe(op, wh, job.events, types, events_where)
    query = common.sql_text("landed_per_hour.sql", ranges=events_where)
    landed.landed_per_hour = {common.utc(h): int(n) for h, n in wh.execute(query).fetchall()}
    write_loaded_hours(wh, job, landed)
    for table in job.dimensions:
        wh.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier("landing", table.name)))
        landed.dimensions[table.name] = pipe(op, wh, table, types, None)
    op.execute("COMMIT")
    return landed


def open_snapshot(op: psycopg.Connection, pads: tuple[str, str]) -> None:
    op.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(common.LOADER_ROLE)))
    op.execute(common.SNAPSHOT)
    op.execute(SET_PADS, pads)


def landing_types(wh: psycopg.Connection) -> dict[str, dict[str, str]]:
    if wh.execute("SELECT to_regclass('landing.usage_events')").fetchone()[0] is None:
        raise WarehouseError(
            "the warehouse has no landing schema; run `platformctl migrate up --target analytics`"
        )
    types: dict[str, dict[str, str]] = {}
    for table, column, data_type in wh.execute(LANDING_TYPES).fetchall():
        types.setdefault(table, {})[column] = data_type
    return types


def pipe(op: psycopg.Connection, wh: psycopg.Connection, table: ExportTable, types: dict,
         where: str | None) -> int:  # fmt: skip
    """Binary COPY out of the snapshot into landing; returns the rows written."""
    select = select_sql(table, casts=types[table.name])
    if where is not None:
        select = sql.SQL("{} WHERE {}").format(select, sql.SQL(where))
    source = sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(select)
    target = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        sql.Identifier("landing", table.name),
        sql.SQL(", ").join(map(sql.Identifier, table.target_columns)),
    )
    with op.cursor() as out_cur, wh.cursor() as in_cur:
        with out_cur.copy(source) as out, in_cur.copy(target) as into:
            buffer = bytearray()
            for chunk in out:
                buffer += chunk
                if len(buffer) >= WRITE_CHUNK:
                    into.write(buffer)
                    buffer = bytearray()
            if buffer:
                into.write(buffer)
        return in_cur.rowcount


def write_loaded_hours(wh: psycopg.Connection, job: Job, landed: Landed) -> None:
    wh.execute(
        f"DELETE FROM landing.loaded_hours WHERE {common.ranges_predicate('hour_start', job.ranges)}"
    )
    columns = sql.SQL(", ").join(map(sql.Identifier, common.LOADED_HOURS_COLUMNS))
    with (
        wh.cursor() as cur,
        cur.copy(sql.SQL("COPY landing.loaded_hours ({}) FROM STDIN").format(columns)) as into,
    ):
        for row in common.loaded_hours_rows(job, landed.fingerprint):
            into.write_row(row)


def read(warehouse_url: str, query: str) -> list[tuple]:
    with connect(warehouse_url) as wh:
        return wh.execute(query).fetchall()
