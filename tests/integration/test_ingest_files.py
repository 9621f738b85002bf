"""Per-file failures of ingestion (issue 9, section 1): what is retried and what fails at once,
a file's identity (content and format), rollups that hold the largest values the envelope
accepts, and `platformctl ingest`'s exit status, summary and option checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal, localcontext

import psycopg
import pyarrow.parquet as pq
import pytest
from ingest_helpers import (
    FIELDS,
    ORG_A,
    ORG_B,
    batches,
    event,
    events,
    make_world,
    stored,
    test_config,
    write_csv,
    write_ndjson,
    write_parquet,
)

from dagster_project.lib.ingest import ingest_events, ingest_file
from dagster_project.lib.ingest import pipeline as ingest_pipeline
from dagster_project.lib.ingest.pipeline import is_transient

BIG_MODEL_ID = "1d000000-0000-4000-8000-0000000000e1"
BIG_MODEL = "acme/priciest@1"
MAX_PRICE = Decimal("999999.999999")  # app.model_prices: numeric(12, 6)
BIGINT_MAX = 2**63 - 1


@pytest.fixture
def db(operational_db_url: str) -> str:
    make_world(operational_db_url)
    return operational_db_url


def _patient(tmp_path, **overrides):
    """Five attempts with a 1 s backoff: a file failing all of them takes at least 15 s."""
    return test_config(tmp_path, max_attempts=5, backoff_initial_seconds=1.0, **overrides)


# -- permanent and transient failures -------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (psycopg.errors.SerializationFailure("x"), True),
        (psycopg.errors.DeadlockDetected("x"), True),
        (psycopg.errors.LockNotAvailable("x"), True),
        (psycopg.errors.AdminShutdown("x"), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.ConnectionFailure("x"), True),
        (psycopg.errors.NumericValueOutOfRange("x"), False),
        (psycopg.errors.CheckViolation("x"), False),
        (psycopg.errors.UniqueViolation("x"), False),
        (psycopg.errors.InsufficientPrivilege("x"), False),
        (ValueError("x"), False),
    ],
)
def test_only_what_can_succeed_later_is_transient(exc, transient):
    assert is_transient(exc) is transient


def test_a_unique_key_race_on_the_event_keys_is_transient(db, tmp_path):
    ingest_file(write_ndjson(tmp_path / "x.ndjson", events(1)), database_url=db,
                config=test_config(tmp_path))  # fmt: skip
    with psycopg.connect(db) as conn, pytest.raises(psycopg.errors.UniqueViolation) as raised:
        conn.execute("INSERT INTO ingest.event_keys SELECT * FROM ingest.event_keys")
    assert is_transient(raised.value)


def test_a_lost_connection_is_retried_on_new_connections(db, tmp_path, monkeypatch):
    real_load, calls = ingest_pipeline.ShardLoader.load, []

    def cut(self, work):
        calls.append(work.chunk_no)
        if len(calls) == 1:  # the server drops every ingest connection, the batch lock's too
            with psycopg.connect(db, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name LIKE 'ingest-%%'"
                )
        return real_load(self, work)

    monkeypatch.setattr(ingest_pipeline.ShardLoader, "load", cut)
    config = test_config(tmp_path, max_attempts=3, backoff_initial_seconds=0.01, shards=1)
    result = ingest_file(write_ndjson(tmp_path / "x.ndjson", events(20)), database_url=db,
                         config=config)  # fmt: skip
    assert (result.state, result.attempts, result.accepted) == ("loaded", 2, 20)
    assert len(stored(db)) == 20


def test_a_permanent_database_error_dead_letters_the_batch_at_once(db, tmp_path, monkeypatch):
    def overflow(self, work):
        raise psycopg.errors.NumericValueOutOfRange("numeric field overflow")

    monkeypatch.setattr(ingest_pipeline.ShardLoader, "load", overflow)
    started = time.monotonic()
    result = ingest_file(
        write_ndjson(tmp_path / "x.ndjson", events(5)), database_url=db, config=_patient(tmp_path)
    )
    assert (result.state, result.attempts) == ("dead_lettered", 1)
    assert time.monotonic() - started < 10
    assert result.problem == (
        "x.ndjson: dead_lettered after 1 attempt: NumericValueOutOfRange (22003): "
        "numeric field overflow"
    )


def test_a_bug_is_recorded_on_the_batch_then_raised(db, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_pipeline.ShardLoader, "load", lambda self, work: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ingest_file(
            write_ndjson(tmp_path / "x.ndjson", events(5)),
            database_url=db,
            config=_patient(tmp_path),
        )
    with psycopg.connect(db) as conn:
        state, attempts, error = conn.execute(
            "SELECT state, attempts, last_error FROM ingest.ingestion_batches"
        ).fetchone()
    assert (state, attempts) == ("dead_lettered", 1)
    assert error == "ZeroDivisionError: division by zero"


def _parquet_without(path, column):
    write_parquet(path, events(3))
    table = pq.read_table(path)
    pq.write_table(table.drop_columns([column]), path)
    return path


def _text(path, text):
    path.write_text(text)
    return path


UNREADABLE = {
    "empty.csv": (lambda p: _text(p, ""), "the file is empty"),
    "empty.parquet": (lambda p: _text(p, ""), "the file is empty"),
    "blank.csv": (lambda p: _text(p, "\n\n"), "the CSV file has no header line"),
    "text.parquet": (
        lambda p: write_ndjson(p, events(3)),
        "not a Parquet file (Parquet magic bytes not found",
    ),
    "no_org.csv": (
        lambda p: _text(
            p, ",".join(f for f in FIELDS if f != "organization_id") + "\nevt-1,,,,,,,,,,,\n"
        ),
        "missing required column organization_id (the CSV columns are event_id, user_id",
    ),
    "no_model.parquet": (
        lambda p: _parquet_without(p, "model"),
        "missing required column model (the PARQUET columns are event_id",
    ),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_a_file_that_cannot_be_read_fails_at_once_in_one_line(db, tmp_path, name):
    write, cause = UNREADABLE[name]
    path = write(tmp_path / name)
    started = time.monotonic()
    result = ingest_file(path, database_url=db, config=_patient(tmp_path))
    assert (result.state, result.attempts, result.accepted) == ("dead_lettered", 1, 0)
    assert time.monotonic() - started < 10  # not 5 attempts and 15 s of backoff
    assert result.problem.startswith(f"{name}: dead_lettered after 1 attempt: {cause}")
    assert "\n" not in result.problem


def test_ndjson_of_no_events_is_a_valid_empty_batch(db, tmp_path):
    result = ingest_file(_text(tmp_path / "none.ndjson", ""), database_url=db,
                         config=test_config(tmp_path))  # fmt: skip
    assert (result.state, result.submitted, result.problem) == ("loaded", 0, None)
    assert ingest_events([], database_url=db, config=test_config(tmp_path)).replayed


def test_a_required_column_present_but_empty_is_quarantined_per_line(db, tmp_path):
    rows = events(4)
    rows[1] = {**rows[1], "organization_id": None}
    result = ingest_file(write_csv(tmp_path / "x.csv", rows), database_url=db,
                         config=test_config(tmp_path))  # fmt: skip
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 3, 1)
    assert result.problem is None


# -- a file's identity: content and format --------------------------------------------------------


def test_the_same_bytes_under_another_format_are_another_batch(db, tmp_path):
    config = test_config(tmp_path)
    parquet = write_parquet(tmp_path / "a.parquet", events(6))
    loaded = ingest_file(parquet, database_url=db, config=config)
    assert (loaded.state, loaded.accepted) == ("loaded", 6)
    as_csv = tmp_path / "a.csv"
    shutil.copyfile(parquet, as_csv)
    other = ingest_file(as_csv, database_url=db, config=config)
    assert other.batch_id != loaded.batch_id and not other.replayed  # not "replay: nothing new"
    assert other.state == "dead_lettered" and other.problem.startswith("a.csv: ")
    assert ingest_file(parquet, database_url=db, config=config).replayed  # still loaded

    # The other way round: a failure of the .csv is not blamed on the .parquet.
    parquet = write_parquet(tmp_path / "b.parquet", events(4, start=100))
    as_csv = tmp_path / "b.csv"
    shutil.copyfile(parquet, as_csv)
    failed = ingest_file(as_csv, database_url=db, config=config)
    assert failed.state == "dead_lettered"
    second = ingest_file(parquet, database_url=db, config=config)
    assert (second.state, second.accepted, second.error) == ("loaded", 4, None)
    assert [b[1] for b in batches(db)] == ["loaded", "dead_lettered", "dead_lettered", "loaded"]


# -- rollups at the bounds --------------------------------------------------------------------------


def _priciest_model(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO app.model_registry (id, provider, model_name, version, context_window) "
            # a context window the 50M input tokens fit in (else exceeds_context_window)
            "VALUES (%s, 'acme', 'priciest', '1', 2147483647)",
            (BIG_MODEL_ID,),
        )
        conn.execute(
            "INSERT INTO app.model_prices VALUES (%s, now() - interval '30 days', NULL, %s, %s)",
            (BIG_MODEL_ID, MAX_PRICE, MAX_PRICE),
        )


def _max_event(n: int) -> dict:
    """The costliest event the envelope accepts at MAX_PRICE: just below 10^8 USD."""
    return event(n, model=BIG_MODEL, input_tokens=50_000_000, output_tokens=49_999_999,
                 ago=timedelta(hours=1, minutes=30))  # fmt: skip


def _rollup(url: str, table: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT requests, input_tokens, output_tokens, cost_usd FROM app.{table} "
            "WHERE model_id = %s",
            (BIG_MODEL_ID,),
        ).fetchone()


def test_the_rollups_hold_the_costliest_events_without_sinking_other_tenants(db, tmp_path):
    _priciest_model(db)
    # 120 events of ~10^8 USD in one organization, model and hour: past numeric(20, 10).
    rows = [_max_event(n) for n in range(120)] + events(6, start=1000)
    result = ingest_file(write_ndjson(tmp_path / "big.ndjson", rows), database_url=db,
                         config=test_config(tmp_path))  # fmt: skip
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 126, 0)
    with psycopg.connect(db) as conn:
        (cost,) = conn.execute(
            "SELECT sum(cost_usd) FROM app.usage_events WHERE model_id = %s", (BIG_MODEL_ID,)
        ).fetchone()
    assert cost > Decimal(10) ** 10
    for table in ("usage_hourly", "usage_daily"):
        assert _rollup(db, table) == (120, 120 * 50_000_000, 120 * 49_999_999, cost)
    assert {r[0] for r in stored(db)} == {ORG_A, ORG_B}


def test_a_rollup_row_holds_bigint_max_events_of_the_highest_cost(db, tmp_path):
    """The bound the columns are sized for: `requests` (bigint) events, each below 10^8 USD."""
    _priciest_model(db)
    config = test_config(tmp_path)
    first = ingest_file(write_ndjson(tmp_path / "a.ndjson", [_max_event(0)]), database_url=db,
                        config=config)  # fmt: skip
    assert first.state == "loaded"
    _, _, _, one = _rollup(db, "usage_daily")
    with psycopg.connect(db, autocommit=True) as conn:  # as if 2^63 - 2 such events were stored
        for table in ("usage_hourly", "usage_daily"):
            conn.execute(
                f"UPDATE app.{table} SET requests = %(n)s, cost_usd = %(n)s * %(cost)s "
                "WHERE model_id = %(model)s",
                {"n": BIGINT_MAX - 1, "cost": Decimal("99999999.9999999999"),
                 "model": BIG_MODEL_ID},
            )  # fmt: skip
    last = ingest_file(write_ndjson(tmp_path / "b.ndjson", [_max_event(1)]), database_url=db,
                       config=config)  # fmt: skip
    assert (last.state, last.accepted) == ("loaded", 1)
    with localcontext(prec=60):  # Python's default 28 digits would round the 37-digit sum
        expected = (BIGINT_MAX - 1) * Decimal("99999999.9999999999") + one
    for table in ("usage_hourly", "usage_daily"):
        requests, _, _, cost = _rollup(db, table)
        assert (requests, cost) == (BIGINT_MAX, expected)


def test_the_warehouse_rollups_are_as_wide_as_the_operational_ones():
    """The analytics side (landing.loaded_hours, dbt marts) sums cost as DECIMAL(38, 10)."""
    from dagster_project.lib.paths import PROJECT_ROOT

    landing = (PROJECT_ROOT / "migrations/analytics/202612041000_landing.up.sql").read_text()
    assert "cost_usd DECIMAL(38, 10)" in landing  # loaded_hours
    sums = [
        line
        for path in (PROJECT_ROOT / "dbt").rglob("*.sql")
        for line in path.read_text().splitlines()
        if "sum(" in line and "cost_usd" in line
    ]
    assert sums and all("decimal(38, 10)" in line for line in sums), sums


# -- platformctl ingest ---------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dagster_project.cli", "ingest", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def _config_file(tmp_path) -> str:
    path = tmp_path / "ingest.yaml"
    path.write_text(json.dumps({"landing_dir": str(tmp_path / "landing"), "max_attempts": 5,
                                "backoff_initial_seconds": 1.0}))  # fmt: skip
    return str(path)


def test_the_cli_exits_non_zero_when_a_file_failed_or_was_wholly_quarantined(db, tmp_path):
    good = write_ndjson(tmp_path / "good.ndjson", events(4))
    bad = write_ndjson(tmp_path / "bad.ndjson", [event(n, status="ok") for n in range(3)])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    base = ["--database-url", db, "--config", _config_file(tmp_path)]

    ok = _cli(str(good), *base)
    assert ok.returncode == 0, ok.stderr
    assert "1 file: 1 loaded, 0 already loaded, 0 failed" in ok.stdout

    run = _cli(str(good), str(bad), str(empty), *base)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "bad.ndjson: all 3 lines quarantined (nothing stored)" in run.stdout
    assert "empty.csv: dead_lettered after 1 attempt: the file is empty" in run.stdout
    assert "3 files: 0 loaded, 1 already loaded, 2 failed" in run.stdout

    as_json = _cli(str(good), str(bad), *base, "--json")
    assert as_json.returncode == 1
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["problem"] is None for r in lines] == [True, False]
    assert "2 files: 0 loaded, 1 already loaded, 1 failed" in as_json.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--shards", "-1"], "--shards -1: shards must be between 1 and 64"),
        (["--shards", "0"], "--shards 0: shards must be between 1 and 64"),
        (["--batch-size", "-5"], "--batch-size -5: batch_size must be >= 1"),
        (["--batch-size", "0"], "--batch-size 0: batch_size must be >= 1"),
    ],
)
def test_the_cli_rejects_nonsensical_options_in_one_line(db, tmp_path, option, message):
    path = write_ndjson(tmp_path / "x.ndjson", events(2))
    run = _cli(str(path), "--database-url", db, "--config", _config_file(tmp_path), *option)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [f"error: {message}"]
    assert batches(db) == []  # rejected before anything was ingested


def test_the_cli_rejects_a_missing_file_before_ingesting_any(db, tmp_path):
    path = write_ndjson(tmp_path / "x.ndjson", events(2))
    run = _cli(str(path), str(tmp_path / "nope.ndjson"), "--database-url", db,
               "--config", _config_file(tmp_path))  # fmt: skip
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.ndjson'}: no such file"]
    assert batches(db) == []
