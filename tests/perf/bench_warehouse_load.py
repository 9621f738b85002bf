"""Benchmark: the warehouse load (lib/warehouse) on both targets against each target's floor.

Run with `make bench` (or `.venv/bin/python tests/perf/bench_warehouse_load.py`;
WAREHOUSE_BENCH_EVENTS overrides the 1M events). Writes the "warehouse" section of
docs/performance.md.

A scratch operational database (migrated, seeded) gets 2M events over four days (70% with
metadata, so the pseudonym is computed for most rows), inserted set-based (the rollup trigger
keeps app.usage_hourly). Each measurement runs in a child process (peak RSS from wait4) into a
freshly migrated warehouse:
  * load:  `load_hours` over the two days (as platform_loader, pseudonyms computed server-side);
  * floor: the same rows into the same landing.usage_events by the bare fast path, as the
    superuser, metadata as plain text instead of its HMAC: DuckDB <- ADBC record batches,
    PostgreSQL <- binary COPY piped into COPY FROM STDIN;
  * floor + HMAC: the floor's path with the loader's own export SELECT (the metadata pseudonym
    computed by the operational server), to tell the pseudonym's cost from the loader's own;
  * reload: `load_hours` of the same two days once more, timed the second time: what a
    late-event reload pays (the hours are deleted, then inserted again);
  * load, 1 day / 4 days: `load_hours` over the first day only (half the rows) and over all
    four days the database holds (twice the rows), to show peak memory does not grow with the
    data size.
The operational database holds 2M events over four days (twice EVENTS); every mode but the
4-day load reads the first two days (EVENTS rows).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from report import environment_line, write_section  # noqa: E402

from dagster_project.lib.db.postgres import (  # noqa: E402
    database_url,
    drop_database,
    ensure_database,
    with_database,
)

EVENTS = int(os.environ.get("WAREHOUSE_BENCH_EVENTS", 1_000_000))
KEY = b"bench-pseudonym-key"
DAY0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=4)
WINDOW = (DAY0, DAY0 + timedelta(days=2))
WHOLE = (DAY0, DAY0 + timedelta(days=4))  # 2 * EVENTS: the memory slope's far point
IN_WINDOW = (
    f" WHERE occurred_at >= '{WINDOW[0].isoformat()}' AND occurred_at < '{WINDOW[1].isoformat()}'"
)
INSERT_EVENTS = """
INSERT INTO app.usage_events (occurred_at, organization_id, user_id, api_key_id, model_id,
    input_tokens, output_tokens, latency_ms, event_id, operation, status, error_code, cost_usd, metadata,
    price_id, input_cost_usd)
SELECT %(day0)s::timestamptz + ((i - 1) * (%(span)s::float8 / %(n)s)) * interval '1 second',
       o.id, NULL, NULL, m.id, i %% 5000, i %% 900, 100 + i %% 3000, 'bench-' || i,
       'chat.completions', CASE WHEN i %% 50 = 0 THEN 'error' ELSE 'success' END,
       CASE WHEN i %% 100 = 0 THEN 'rate_limited' END, (i %% 5000) * 0.0000025,
       CASE WHEN i %% 10 < 7 THEN jsonb_build_object('feature', 'chat', 'request', i) END,
       0, (i %% 5000) * 0.0000025
FROM generate_series(1, %(n)s) AS i
CROSS JOIN LATERAL (SELECT id FROM app.organizations ORDER BY id OFFSET i %% 3 LIMIT 1) AS o
CROSS JOIN LATERAL (SELECT id FROM app.model_registry ORDER BY id OFFSET i %% 5 LIMIT 1) AS m
"""
MODES = ("floor", "floor_hmac", "load", "reload", "load_half", "load_double")
FLOOR_SELECT = (
    "SELECT occurred_at, received_at, organization_id, user_id, api_key_id, model_id, input_tokens, "
    "output_tokens, latency_ms, event_id, operation, status, error_code, cost_usd, metadata::text "
    "AS metadata_pseudonym FROM app.usage_events"
)


# -- children: one measurement each, JSON on stdout -------------------------------------------------


def child(mode: str, op_url: str, wh_url: str) -> None:
    # Imports first, outside the timed part: the rate is the copy's, not Python's start-up.
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import duckdb  # noqa: F401

    from dagster_project.lib.warehouse import load_hours

    if mode == "reload":  # the hours are in the warehouse already: a late-event reload
        load_hours(op_url, wh_url, [WINDOW], pseudonym_key=KEY, load_id="bench-first")
    started = time.perf_counter()
    if mode in ("load", "load_half", "reload", "load_double"):
        window = {"load_half": (WINDOW[0], WINDOW[0] + timedelta(days=1)),
                  "load_double": WHOLE}.get(mode, WINDOW)  # fmt: skip
        rows = load_hours(op_url, wh_url, [window], pseudonym_key=KEY, load_id="bench").events
    elif wh_url.startswith("duckdb:"):
        rows = _floor_duckdb(op_url, wh_url, hmac=mode == "floor_hmac")
    else:
        rows = _floor_postgres(op_url, wh_url, hmac=mode == "floor_hmac")
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started}))


def _hmac_select(casts: dict[str, str] | None = None) -> str:
    """The loader's export SELECT of the events (pseudonym included), as text."""
    from dagster_project.lib.warehouse.export import EVENTS, export_plan, select_sql

    return select_sql(export_plan()[EVENTS], casts=casts).as_string(None) + IN_WINDOW


def _set_pads(execute) -> None:
    from dagster_project.lib.warehouse.export import IPAD_SETTING, OPAD_SETTING, pads

    ipad, opad = pads(KEY)
    execute(f"SELECT set_config('{IPAD_SETTING}', '{ipad}', false), "
            f"set_config('{OPAD_SETTING}', '{opad}', false)")  # fmt: skip


def _floor_duckdb(op_url: str, wh_url: str, hmac: bool) -> int:
    import adbc_driver_postgresql.dbapi as adbc
    import duckdb

    from dagster_project.lib.migrations.drivers.duckdb import duckdb_path

    with (
        duckdb.connect(str(duckdb_path(wh_url))) as wh,
        adbc.connect(op_url) as op,
        op.cursor() as cur,
    ):
        if hmac:
            _set_pads(cur.execute)
            cur.fetchall()
        cur.execute(_hmac_select() if hmac else FLOOR_SELECT + IN_WINDOW)
        wh.register("src", cur.fetch_record_batch())
        wh.execute(
            "INSERT INTO landing.usage_events SELECT * REPLACE (CAST(cost_usd AS DECIMAL(18,10)) AS cost_usd) FROM src"
        )
        return wh.execute("SELECT count(*) FROM landing.usage_events").fetchone()[0]


def _floor_postgres(op_url: str, wh_url: str, hmac: bool) -> int:
    with psycopg.connect(op_url) as op, psycopg.connect(wh_url) as wh:
        select = FLOOR_SELECT + IN_WINDOW
        if hmac:
            _set_pads(op.execute)
            types = {c: t for c, t in wh.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "WHERE a.attrelid = 'landing.usage_events'::regclass AND a.attnum > 0 "
                "AND NOT a.attisdropped").fetchall()}  # fmt: skip
            select = _hmac_select(types)
        with op.cursor().copy(f"COPY ({select}) TO STDOUT (FORMAT binary)") as out, \
                wh.cursor().copy("COPY landing.usage_events FROM STDIN (FORMAT binary)") as into:  # fmt: skip
            for chunk in out:
                into.write(chunk)
        wh.commit()
        return wh.execute("SELECT count(*) FROM landing.usage_events").fetchone()[0]


# -- the parent -------------------------------------------------------------------------------------


def _migrated(url: str, target: str) -> None:
    from dagster_project.lib.migrations.config import load_config
    from dagster_project.lib.migrations.runner import Runner

    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    Runner(target, config=config, url=url, actor="bench").up()


def operational(
    base: str, *, start: datetime = DAY0, seconds: int = 345_600, events: int = 2 * EVENTS
) -> str:
    """A migrated, seeded scratch operational database with `events` spread evenly over
    `seconds` from `start`; the caller drops it."""
    from dagster_project.lib.seeds import seed_database

    url = with_database(base, f"bench_wh_op_{os.getpid()}")
    ensure_database(url)
    _migrated(url, "operational")
    seed_database(url, analytics=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT app.ensure_usage_partitions(%s::date, %s::date)",
            (start.date(), (start + timedelta(seconds=seconds)).date() + timedelta(days=1)),
        )
        conn.execute(INSERT_EVENTS, {"day0": start, "n": events, "span": seconds})
        conn.execute("VACUUM ANALYZE app.usage_events")
    return url


def measure(mode: str, op_url: str, wh_url: str) -> dict:
    process = subprocess.Popen([sys.executable, __file__, "child", mode, op_url, wh_url],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise SystemExit(f"{mode} into {wh_url} failed")
    result = json.loads(out)
    result["rss_mb"] = usage.ru_maxrss / 1024
    result["rate"] = result["rows"] / result["seconds"]
    return result


def run(mode: str, target: str, op_url: str, base: str, scratch: Path) -> dict:
    if target == "duckdb":
        wh = f"duckdb:///{scratch / f'{mode}.duckdb'}"
        _migrated(wh, "analytics")
        return measure(mode, op_url, wh)
    wh = with_database(base, f"bench_wh_{mode}_{os.getpid()}")
    ensure_database(wh)
    try:
        _migrated(wh, "analytics")
        return measure(mode, op_url, wh)
    finally:
        drop_database(wh)


def main() -> None:
    base = database_url()
    op_url = operational(base)
    results: dict[tuple[str, str], dict] = {}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for target in ("duckdb", "postgres"):
                for mode in MODES:  # interleaved per target: same machine load
                    results[(target, mode)] = run(mode, target, op_url, base, Path(scratch))
                    print(target, mode, results[(target, mode)], file=sys.stderr)
    finally:
        drop_database(op_url)
    print(write_section("warehouse", render(results)))


def render(results: dict) -> str:
    lines = [
        "## Warehouse load: `load_hours` vs the raw fast path (issue 8)",
        "",
        f"`.venv/bin/python tests/perf/bench_warehouse_load.py` ({EVENTS:,} events over two days, "
        "twice that over four for the last row, 70% with metadata; each run a child process into a freshly migrated warehouse). "
        f"{environment_line()}.",
        "",
        "| Target | Path | Rows | Seconds | Rows/s | Peak RSS (MB) | vs floor | vs floor + HMAC |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for target in ("duckdb", "postgres"):
        floor, floor_hmac = results[(target, "floor")], results[(target, "floor_hmac")]
        labels = {"floor": "floor: raw ADBC → DuckDB" if target == "duckdb"
                  else "floor: raw binary COPY → COPY",
                  "floor_hmac": "floor + metadata HMAC", "load": "load_hours",
                  "reload": "load_hours again, hours already there",
                  "load_half": "load_hours, first day only",
                  "load_double": "load_hours, four days"}  # fmt: skip
        for mode in MODES:
            label = labels[mode]
            r = results[(target, mode)]
            lines.append(f"| {target} | {label} | {r['rows']:,} | {r['seconds']:.1f} | {r['rate']:,.0f} | "
                         f"{r['rss_mb']:.0f} | {r['rate'] / floor['rate']:.2f} | "
                         f"{r['rate'] / floor_hmac['rate']:.2f} |")  # fmt: skip
    lines += [
        "",
        "`load_hours` reads as platform_loader in one REPEATABLE READ snapshot, computes the metadata "
        "pseudonym server-side (HMAC-SHA256 from the built-in sha256(); pgcrypto is not installed), "
        "then writes in one warehouse transaction (delete the hours, insert, loaded_hours, dimensions; "
        "on PostgreSQL under the advisory lock), on DuckDB one per chunk of whole hours of at most "
        "500k events (lib/warehouse/duck.py: an open DuckDB transaction holds its rows in memory). The floor lands the same rows in the same table with "
        "metadata as plain text; floor + HMAC sends the loader's own export SELECT down the floor's "
        "path, so its gap to the floor is the pseudonym's cost and `load_hours`' gap to it is the "
        "loader's own (snapshot, fingerprint, per-hour counts, dimensions). The reload row replaces "
        "hours the warehouse already holds, as a late event does. The first-day and four-day rows "
        "load half and twice the rows (the operational database holds four days): their peak RSS "
        "against the two-day row shows whether memory grows with the data.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(*sys.argv[2:5])
    else:
        main()
