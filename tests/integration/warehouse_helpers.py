"""Shared pieces of the warehouse-load tests: a migrated warehouse of either engine, and every
landing row next to what the operational database says it must be (every column compared)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import duckdb
import psycopg
from psycopg import sql

from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.drivers.duckdb import duckdb_path
from dagster_project.lib.migrations.runner import Runner
from dagster_project.lib.pricing.categories import CATEGORIES
from dagster_project.lib.warehouse.export import EVENTS, ExportTable, export_plan, pseudonym

KEY = b"test-pseudonym-key"
TARGETS = ("duckdb", "postgres")


def make_warehouse(kind: str, tmp_path, make_db_url) -> str:
    """A warehouse of `kind` with every analytics migration applied; its URL."""
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}" if kind == "duckdb" else make_db_url()
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    Runner("analytics", config=config, url=url, actor="test-warehouse").up()
    return url


def warehouse_rows(url: str, query: str) -> list[tuple]:
    if url.startswith("duckdb:"):
        with duckdb.connect(str(duckdb_path(url)), read_only=True) as conn:
            return [tuple(map(_plain, r)) for r in conn.execute(query).fetchall()]
    with psycopg.connect(url) as conn:
        return [tuple(map(_plain, r)) for r in conn.execute(query).fetchall()]


def landing(url: str, table: ExportTable) -> list[tuple]:
    columns = ", ".join(f'"{c}"' for c in table.target_columns)
    return sorted(warehouse_rows(url, f"SELECT {columns} FROM {table.target}"), key=_order)


def expected(operational_url: str, table: ExportTable, *, where: str = "true") -> list[tuple]:
    """The operational rows as landing must hold them: pseudonyms computed here, in Python."""
    items = [sql.SQL("({})::text" if c.pseudonymised else "{}").format(sql.Identifier(c.source))
             for c in table.columns]  # fmt: skip
    schema, name = table.source.split(".")
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(items), sql.Identifier(schema, name), sql.SQL(where)
    )
    with psycopg.connect(operational_url) as conn:
        rows = conn.execute(query).fetchall()
    flags = [c.pseudonymised for c in table.columns]
    return sorted(
        (
            tuple(pseudonym(KEY, v) if f else _plain(v) for v, f in zip(r, flags, strict=True))
            for r in rows
        ),
        key=_order,
    )


def everything(operational_url: str, warehouse_url: str, *, events_where: str = "true") -> dict:
    """{table: (landing rows, expected rows)} for every copied table."""
    out = {}
    for name, table in export_plan().items():
        where = events_where if name == EVENTS else "true"
        out[name] = (landing(warehouse_url, table), expected(operational_url, table, where=where))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, list):
        return tuple(value)
    return value


def _order(row: tuple) -> tuple:
    return tuple((v is None, str(v)) for v in row)


def seeded_event(url: str) -> tuple[str, str, datetime]:
    """(organization_id, model_id, occurred_at) of the first seeded event."""
    with psycopg.connect(url) as conn:
        org, model, at = conn.execute(
            "SELECT organization_id, model_id, occurred_at FROM app.usage_events "
            "ORDER BY occurred_at, event_id LIMIT 1"
        ).fetchone()
    return str(org), str(model), at


def add_events(url: str, count: int, *, prefix: str, marker: str = "m") -> None:
    """`count` more events beside the first seeded one (same org, model, hour and price version),
    each with a metadata object holding `marker`, inserted as the superuser (the rollup trigger
    fires). Every token category gets a count (some zero) and a cost with all ten decimals used;
    every 5th event carries a provider-reported cost_usd, the others the sum of the categories."""
    org, model, at = seeded_event(url)
    counts = [f"(i * {j + 3}) %% {11 + j}" for j in range(len(CATEGORIES))]
    costs = [f"round(({n}) * 0.000000{j + 1}234567, 10)" for j, n in enumerate(counts)]
    with psycopg.connect(url) as conn:
        (price_id,) = conn.execute(
            "SELECT price_id FROM app.usage_events WHERE organization_id = %s AND model_id = %s "
            "AND occurred_at = %s LIMIT 1",
            (org, model, at),
        ).fetchone()
        conn.execute(
            f"""INSERT INTO app.usage_events (occurred_at, organization_id, model_id, latency_ms,
                   event_id, operation, status, error_code, metadata, price_id, service_tier,
                   cost_source, cost_usd, {", ".join(c.count for c in CATEGORIES)},
                   {", ".join(c.cost for c in CATEGORIES)})
               SELECT date_trunc('hour', %(at)s::timestamptz) + i * interval '1 second', %(org)s, %(model)s,
                      100 + i, %(prefix)s || i, 'chat.completions',
                      CASE WHEN i %% 7 = 0 THEN 'error' ELSE 'success' END,
                      CASE WHEN i %% 14 = 0 THEN 'rate_limited' END,
                      CASE WHEN i %% 3 = 0 THEN NULL
                           ELSE jsonb_build_object('note', %(marker)s || '-' || i, 'n', i) END,
                      %(price_id)s, (ARRAY['standard', 'batch', 'priority', 'flex'])[1 + i %% 4],
                      CASE WHEN i %% 5 = 0 THEN 'provider' ELSE 'computed' END,
                      CASE WHEN i %% 5 = 0 THEN i * 0.0000012345 ELSE {" + ".join(costs)} END,
                      {", ".join(counts)}, {", ".join(costs)}
               FROM generate_series(1, %(count)s) AS i""",
            {
                "at": at,
                "org": org,
                "model": model,
                "prefix": prefix,
                "marker": marker,
                "count": count,
                "price_id": price_id,
            },
        )
