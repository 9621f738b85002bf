"""The warehouse load on both engines against a real operational PostgreSQL: exact (every column
of every copied table), replay-safe, crash-safe, exact under out-of-order ingest commits, and the
loader's role reads no secret and writes nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from ingest_helpers import (
    KA,
    KB,
    ORG_A,
    ORG_B,
    UA,
    UB,
    event,
    make_world,
    test_config,
    write_ndjson,
)
from psycopg import errors
from warehouse_helpers import (
    KEY,
    TARGETS,
    add_events,
    everything,
    expected,
    landing,
    make_warehouse,
    warehouse_rows,
)

from dagster_project.lib.ingest import ingest_file
from dagster_project.lib.ingest import loader as ingest_loader
from dagster_project.lib.pricing.categories import CATEGORIES, NEW_COUNTS
from dagster_project.lib.rollup.ranges import HOUR, floor_hour
from dagster_project.lib.seeds import seed_database
from dagster_project.lib.warehouse import load_hours, stale_hours, touched_hour_ranges
from dagster_project.lib.warehouse.export import EVENTS, export_plan

ALL_TIME = [(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))]
SINCE, UNTIL = ALL_TIME[0]


@pytest.fixture(params=TARGETS)
def warehouse_url(request, tmp_path, make_db_url) -> str:
    return make_warehouse(request.param, tmp_path, make_db_url)


@pytest.fixture
def seeded(operational_db_url) -> str:
    seed_database(operational_db_url)
    add_events(operational_db_url, 2000, prefix="extra-")
    return operational_db_url


def assert_exact(op: str, wh: str) -> None:
    for table, (landed, wanted) in everything(op, wh).items():
        assert landed == wanted, table
    assert stale_hours(op, wh, SINCE, UNTIL) == []


def test_a_load_copies_every_column_exactly(seeded, warehouse_url):
    report = load_hours(seeded, warehouse_url, ALL_TIME, pseudonym_key=KEY, load_id="exact")
    assert report.events == report.fingerprint_events == 2042
    assert report.mismatched_hours == [] and report.dimensions["organizations"] == 3
    assert_exact(seeded, warehouse_url)
    loaded = warehouse_rows(
        warehouse_url, "SELECT sum(events), sum(cost_usd), min(load_id) FROM landing.loaded_hours"
    )
    with psycopg.connect(seeded) as conn:
        cost = conn.execute("SELECT sum(cost_usd) FROM app.usage_events").fetchone()[0]
    assert loaded == [(2042, cost, "exact")]


def test_a_replay_changes_nothing_and_a_partial_reload_only_its_hours(seeded, warehouse_url):
    load_hours(seeded, warehouse_url, ALL_TIME, pseudonym_key=KEY, load_id="first")
    before = everything(seeded, warehouse_url)
    load_hours(seeded, warehouse_url, ALL_TIME, pseudonym_key=KEY, load_id="again")
    with psycopg.connect(seeded) as conn:
        hour = conn.execute("SELECT min(hour) FROM app.usage_hourly").fetchone()[0]
    report = load_hours(
        seeded, warehouse_url, [(hour, hour + HOUR)], pseudonym_key=KEY, load_id="one"
    )
    assert report.hours == 1 and report.events == report.fingerprint_events > 0
    assert everything(seeded, warehouse_url) == before
    assert_exact(seeded, warehouse_url)


def test_an_empty_range_loads_zero_hours_and_keeps_other_hours(seeded, warehouse_url):
    load_hours(seeded, warehouse_url, ALL_TIME, pseudonym_key=KEY, load_id="first")
    empty = (datetime(2001, 1, 1, tzinfo=UTC), datetime(2001, 1, 1, 3, tzinfo=UTC))
    report = load_hours(seeded, warehouse_url, [empty], pseudonym_key=KEY, load_id="empty")
    assert (report.hours, report.events, report.fingerprint_events) == (3, 0, 0)
    assert_exact(seeded, warehouse_url)


def _cli_load(
    op: str, wh: str, pause_marker: Path | None = None, env: dict | None = None
) -> subprocess.Popen:
    # With a marker: the loader pauses (and writes it) after the events, before the commit, a
    # fault the test injects (tests/integration/paused_cli.py), not a hook in the loader.
    runner = (
        [str(Path(__file__).with_name("paused_cli.py")), str(pause_marker)]
        if pause_marker
        else ["-m", "dagster_project.cli"]
    )
    return subprocess.Popen(
        [sys.executable, *runner, "warehouse", "load", "--from", "2000-01-01",
         "--to", "2100-01-01", "--database-url", op, "--warehouse-url", wh, "--json"],
        env={**os.environ, "WAREHOUSE_PSEUDONYM_KEY": KEY.decode(), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_a_loader_killed_mid_load_leaves_the_last_load_then_a_rerun_is_exact(
    seeded, warehouse_url, tmp_path
):
    load_hours(seeded, warehouse_url, ALL_TIME, pseudonym_key=KEY, load_id="first")
    before = {t: landed for t, (landed, _) in everything(seeded, warehouse_url).items()}
    add_events(seeded, 500, prefix="late-")
    with psycopg.connect(seeded, autocommit=True) as conn:
        conn.execute("UPDATE app.organizations SET name = name || ' renamed'")
    marker = tmp_path / "paused"
    process = _cli_load(seeded, warehouse_url, pause_marker=marker)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the loader never reached the pause point"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    after_crash = {t: landed for t, (landed, _) in everything(seeded, warehouse_url).items()}
    assert after_crash == before
    assert len(stale_hours(seeded, warehouse_url, SINCE, UNTIL)) == 1

    rerun = _cli_load(seeded, warehouse_url)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert b'"events": 2542' in out
    assert_exact(seeded, warehouse_url)


def _wait_paused(process: subprocess.Popen, marker: Path) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the loader never reached the pause point"
        time.sleep(0.05)


def _events_by_hour(rows: list[tuple]) -> dict[datetime, list[tuple]]:
    at = export_plan()[EVENTS].target_columns.index("occurred_at")
    out: dict[datetime, list[tuple]] = {}
    for row in rows:
        out.setdefault(floor_hour(row[at]), []).append(row)
    return out


def test_duckdb_killed_between_its_chunk_transactions_leaves_each_hour_old_or_new(
    seeded, tmp_path, make_db_url
):
    """The DuckDB loader commits bounded chunks of whole hours (duck.CHUNK_EVENTS; its memory
    then stays flat in the load's size). kill -9 after the first chunk committed and while the
    second is written: every hour holds exactly its old rows or exactly its new ones, its
    loaded_hours fingerprint says which (stale_hours names the old ones), and a rerun repairs."""
    wh = make_warehouse("duckdb", tmp_path, make_db_url)
    load_hours(seeded, wh, ALL_TIME, pseudonym_key=KEY, load_id="first")
    table = export_plan()[EVENTS]
    old = _events_by_hour(landing(wh, table))
    assert len(old) >= 3, "the seed must span three hours for three chunks"
    with psycopg.connect(seeded, autocommit=True) as conn:  # a late event in every hour
        copied = ", ".join(("price_id", "service_tier", "cost_source", *NEW_COUNTS,
                            *(c.cost for c in CATEGORIES)))  # fmt: skip
        conn.execute(
            "INSERT INTO app.usage_events (occurred_at, organization_id, user_id, api_key_id, "
            "model_id, input_tokens, output_tokens, latency_ms, event_id, operation, status, "
            f"error_code, cost_usd, metadata, {copied}) "
            "SELECT DISTINCT ON (date_trunc('hour', occurred_at)) "
            "occurred_at, organization_id, user_id, api_key_id, model_id, input_tokens, "
            "output_tokens, latency_ms, 'late-' || event_id, operation, status, error_code, "
            f"cost_usd, metadata, {copied} FROM app.usage_events "
            "ORDER BY date_trunc('hour', occurred_at)"
        )
        conn.execute("UPDATE app.organizations SET name = name || ' renamed'")
    new = _events_by_hour(expected(seeded, table))
    hours = sorted(new)
    marker = tmp_path / "paused"
    # One hour with events per chunk (no cap on hours, so the century's empty hours before the
    # first go with it); paused in the second chunk's transaction: the first has committed.
    env = {
        "PAUSED_CLI_CHUNK_EVENTS": "1",
        "PAUSED_CLI_CHUNK_HOURS": "10000000",
        "PAUSED_CLI_AT": "2",
    }
    process = _cli_load(seeded, wh, pause_marker=marker, env=env)
    try:
        _wait_paused(process, marker)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    after = _events_by_hour(landing(wh, table))
    assert after[hours[0]] == new[hours[0]]  # the committed chunk: entirely new
    for hour in hours[1:]:  # the killed chunk and those never started: entirely old
        assert after[hour] == old[hour], hour
    assert stale_hours(seeded, wh, SINCE, UNTIL) == hours[1:]
    dimensions = everything(seeded, wh)  # committed with the first chunk, from its snapshot
    assert all(landed == wanted for name, (landed, wanted) in dimensions.items() if name != EVENTS)

    rerun = _cli_load(seeded, wh)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert_exact(seeded, wh)


# -- two ingesters committing out of order around a load ------------------------------------------


def _bucket(org: str, event_id: str) -> int:
    """lib/ingest/validate.py: a key's advisory-lock bucket (first byte of md5 mod 16)."""
    return int(hashlib.md5(f"{org}:{event_id}".encode()).hexdigest()[:2], 16) % 16


def _events(org: str, hours_ago: int, buckets: range, count: int) -> list[dict]:
    refs = {ORG_A: (UA, KA), ORG_B: (UB, KB)}[org]
    out, n = [], 0
    while len(out) < count:
        n += 1
        row = event(n, ago=timedelta(hours=hours_ago, minutes=-10), organization_id=org,
                    user_id=refs[0], api_key_id=refs[1], event_id=f"{org[:4]}-{n:06d}")  # fmt: skip
        if _bucket(org, row["event_id"]) in buckets:
            out.append(row)
    return out


def test_out_of_order_ingest_commits_lose_nothing_and_double_nothing(
    operational_db_url, warehouse_url, tmp_path, monkeypatch
):
    db = operational_db_url
    make_world(db)
    # A and B lock disjoint key buckets and touch different (organization, hour) rows, so B can
    # commit while A's transaction is still open: out of order.
    a_rows, b_rows = _events(ORG_A, 3, range(0, 8), 300), _events(ORG_B, 2, range(8, 16), 200)
    a_file = write_ndjson(tmp_path / "a.ndjson", a_rows)
    b_file = write_ndjson(tmp_path / "b.ndjson", b_rows)
    a_in_transaction, release = threading.Event(), threading.Event()
    original = ingest_loader.ShardLoader._load_events

    def held(self, work, counts, t):
        result = original(self, work, counts, t)
        if self.source_file.endswith("a.ndjson"):
            a_in_transaction.set()
            assert release.wait(60)
        return result

    monkeypatch.setattr(ingest_loader.ShardLoader, "_load_events", held)
    config = test_config(tmp_path, shards=1)
    results = {}
    a = threading.Thread(
        target=lambda: results.setdefault("a", ingest_file(a_file, database_url=db, config=config))
    )
    a.start()
    try:
        assert a_in_transaction.wait(60)
        results["b"] = ingest_file(b_file, database_url=db, config=config)  # commits first
        now = datetime.now(UTC)
        window = [(floor_hour(now) - 6 * HOUR, floor_hour(now) + HOUR)]
        load_started = datetime.now(UTC)
        first = load_hours(db, warehouse_url, window, pseudonym_key=KEY, load_id="during")
    finally:
        release.set()
        a.join(60)
    assert results["a"].accepted == 300 and results["b"].accepted == 200
    assert first.events == 200  # A had not committed: its rows were not in the snapshot

    # A received_at watermark (what a "copy what is new since" loader keeps) is past A's rows:
    (watermark,) = warehouse_rows(
        warehouse_url, "SELECT max(received_at) FROM landing.usage_events"
    )[0]
    with psycopg.connect(db) as conn:
        above, a_stored = conn.execute(
            "SELECT count(*) FILTER (WHERE received_at > %s), count(*) FILTER (WHERE organization_id = %s) "
            "FROM app.usage_events", (watermark, ORG_A)).fetchone()  # fmt: skip
    assert (above, a_stored) == (0, 300)  # ... so it would never copy them

    a_hour = floor_hour(datetime.fromisoformat(a_rows[0]["occurred_at"]))
    assert stale_hours(db, warehouse_url, *window[0]) == [a_hour]
    # A's touch is stamped with its transaction's START, before the load: only a lookback sees it.
    assert all(
        not (r.start <= a_hour < r.end)
        for r in touched_hour_ranges(db, load_started, lookback=timedelta(0))
    )
    late = touched_hour_ranges(db, load_started, lookback=timedelta(minutes=5))
    assert any(r.start <= a_hour < r.end for r in late)

    second = load_hours(db, warehouse_url, late, pseudonym_key=KEY, load_id="late")
    assert second.events == second.fingerprint_events
    assert_exact(db, warehouse_url)
    assert warehouse_rows(warehouse_url, "SELECT count(*) FROM landing.usage_events") == [(500,)]


# -- the loader's role -----------------------------------------------------------------------------


def test_the_loader_role_reads_every_tenant_but_no_secret_and_writes_nothing(seeded, role_url):
    url = role_url(seeded, "platform_loader")
    with psycopg.connect(seeded) as conn:
        orgs, events = conn.execute(
            "SELECT (SELECT count(*) FROM app.organizations), (SELECT count(*) FROM app.usage_events)"
        ).fetchone()
        flags = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = 'platform_loader'").fetchone()  # fmt: skip
        owned = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = 'platform_loader'::regrole").fetchone()  # fmt: skip
    assert flags == (True, False, False, False, False) and owned == (0,)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM app.organizations").fetchone() == (orgs,)
        assert conn.execute("SELECT count(*) FROM app.usage_events").fetchone() == (events,)
        assert (
            conn.execute(
                "SELECT count(name_count) FROM (SELECT id AS name_count FROM app.api_keys) k"
            ).fetchone()[0]
            > 0
        )
        refused = [
            "SELECT key_hash FROM app.api_keys",
            "SELECT * FROM app.api_keys",
            "INSERT INTO app.organizations (slug, name) VALUES ('x', 'x')",
            "UPDATE app.usage_events SET input_tokens = 0",
            "DELETE FROM app.memberships",
            "UPDATE app.usage_hourly SET requests = 1",
            "INSERT INTO ingest.touched_event_hours (organization_id, event_hour, rows_added, last_batch_id) "
            "VALUES (gen_random_uuid(), date_trunc('hour', now()), 1, 1)",
            "DELETE FROM ingest.touched_event_hours",
            "TRUNCATE app.budgets",
            "CREATE TABLE app.loader_was_here (x int)",
            "SELECT * FROM ingest.event_keys",
        ]
        for statement in refused:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)


def test_duckdb_refuses_an_event_landed_twice_or_outside_its_hours(seeded, tmp_path, make_db_url):
    """DuckDB's landing has no primary key (its deletes cost ~43 µs a row): check_landed keeps
    the key's promise before COMMIT. Faults planted in the open transaction, as a wrong copy
    would leave them."""
    from dagster_project.lib.warehouse import duck
    from dagster_project.lib.warehouse.common import Job, Landed
    from dagster_project.lib.warehouse.errors import WarehouseError
    from dagster_project.lib.warehouse.export import export_plan, pads
    from dagster_project.lib.warehouse.load import normalise_ranges

    wh = make_warehouse("duckdb", tmp_path, make_db_url)
    load_hours(seeded, wh, ALL_TIME, pseudonym_key=KEY, load_id="first")
    before = everything(seeded, wh)
    [(hour,)] = warehouse_rows(wh, "SELECT min(occurred_at) FROM landing.usage_events")
    job = Job(normalise_ranges([(floor_hour(hour), floor_hour(hour) + HOUR)]), export_plan(),
              pads(KEY), "check")  # fmt: skip
    with duck.connect(wh) as conn:
        conn.execute("BEGIN")
        per_hour = duck.landed_per_hour(conn, job)
        inserted = sum(per_hour.values())
        duck.check_landed(conn, job, Landed(events=inserted, landed_per_hour=per_hour))
        with pytest.raises(WarehouseError, match="rows outside"):
            duck.check_landed(conn, job, Landed(events=inserted + 1, landed_per_hour=per_hour))
        conn.execute(
            "INSERT INTO landing.usage_events SELECT * FROM landing.usage_events "
            f"WHERE occurred_at = TIMESTAMPTZ '{hour.isoformat()}' LIMIT 1"
        )
        per_hour = duck.landed_per_hour(conn, job)
        with pytest.raises(WarehouseError, match="copied more than once"):
            duck.check_landed(conn, job, Landed(events=inserted + 1, landed_per_hour=per_hour))
        conn.execute("ROLLBACK")
    assert everything(seeded, wh) == before
    # The key is gone on DuckDB (reloads delete cheaply), NOT NULL kept (11 columns of the first
    # landing migration, 24 of the token categories'; price_id is nullable in landing); PostgreSQL
    # keeps its key.
    constraints = warehouse_rows(
        wh,
        "SELECT constraint_type, count(*) FROM duckdb_constraints() "
        "WHERE schema_name = 'landing' AND table_name = 'usage_events' GROUP BY 1 ORDER BY 1",
    )
    assert constraints == [("NOT NULL", 35)]
    load_hours(seeded, wh, ALL_TIME, pseudonym_key=KEY, load_id="again")
    assert_exact(seeded, wh)


@pytest.mark.parametrize("target", TARGETS)
def test_the_analytics_migrations_roll_back_and_reapply_on_both_engines(
    target, tmp_path, pg_server_url
):
    import dataclasses

    from dagster_project.lib.migrations.config import load_config
    from dagster_project.lib.migrations.cycle import smoke

    url = f"duckdb:///{tmp_path / 'smoke.duckdb'}" if target == "duckdb" else pg_server_url
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    report = smoke("analytics", url=url, config=config)
    assert report.ok, report.failures
