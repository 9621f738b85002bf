"""Usage-event ingestion against a real PostgreSQL: idempotency, quarantine, cost, accounting.

Every test gets a fresh clone of the migrated template with a small world (ingest_helpers).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from ingest_helpers import (
    KA_REVOKED,
    KB,
    NEW_MODEL,
    NEW_PRICE,
    OLD_PRICE,
    ORG_A,
    ORG_B,
    ORG_C,
    UB,
    batches,
    event,
    events,
    expected_cost,
    iso,
    make_world,
    price_change,
    quarantine,
    stored,
    test_config,
    write_csv,
    write_ndjson,
    write_parquet,
)

from dagster_project.lib.ingest import REASONS, ingest_events, ingest_file
from dagster_project.lib.ingest import pipeline as ingest_pipeline


@pytest.fixture
def db(operational_db_url: str) -> str:
    make_world(operational_db_url)
    return operational_db_url


def test_a_batch_replayed_three_times_changes_nothing(db, tmp_path):
    path = write_ndjson(tmp_path / "usage.ndjson", events(2500) + events(10))  # 10 repeats
    config = test_config(tmp_path)
    first = ingest_file(path, database_url=db, config=config)
    rows, counts = stored(db), batches(db)
    assert (first.state, first.submitted, first.accepted, first.duplicates) == (
        "loaded",
        2510,
        2500,
        10,
    )
    for _ in range(3):
        again = ingest_file(path, database_url=db, config=config)
        assert again.replayed and again.batch_id == first.batch_id
        assert (again.accepted, again.duplicates, again.quarantined) == (2500, 10, 0)
    assert stored(db) == rows
    assert batches(db) == counts


def test_two_concurrent_ingesters_of_one_file_store_it_once(db, tmp_path):
    path = write_ndjson(tmp_path / "usage.ndjson", events(3000))
    config = test_config(tmp_path)
    results = []

    def run() -> None:
        results.append(ingest_file(path, database_url=db, config=config))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.replayed for r in results) == [False, True]
    assert {(r.batch_id, r.accepted, r.duplicates) for r in results} == {
        (results[0].batch_id, 3000, 0)
    }
    assert len(stored(db)) == 3000


def test_concurrent_ingesters_of_overlapping_files_store_each_event_once(db, tmp_path):
    # Two different files (two batches) sharing 1000 events, loaded at the same time.
    shared = events(1000)
    one = write_ndjson(tmp_path / "one.ndjson", shared + events(1000, start=5000))
    two = write_ndjson(tmp_path / "two.ndjson", events(1000, start=9000) + shared)
    config = test_config(tmp_path, batch_size=250)
    results = {}
    threads = [
        threading.Thread(target=lambda p=p: results.setdefault(p.name, ingest_file(p, database_url=db, config=config)))
        for p in (one, two)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.state == "loaded" for r in results.values())
    assert sum(r.accepted for r in results.values()) == 3000
    assert sum(r.duplicates for r in results.values()) == 1000
    assert len(stored(db)) == 3000
    # ... and a third ingester replaying both finds nothing new
    assert [ingest_file(p, database_url=db, config=config).replayed for p in (one, two)] == [
        True,
        True,
    ]


def test_a_retry_with_a_shifted_occurred_at_is_stored_once(db, tmp_path):
    original = event(1, ago=timedelta(hours=30))
    retry = {**original, "occurred_at": iso(datetime.now(UTC) - timedelta(hours=1))}  # other day
    resend = {**original, "input_tokens": 5}  # same key, same instant, other content
    config = test_config(tmp_path)
    first = ingest_file(
        write_ndjson(tmp_path / "a.ndjson", [original, retry]), database_url=db, config=config
    )
    second = ingest_file(
        write_ndjson(tmp_path / "b.ndjson", [retry, resend]), database_url=db, config=config
    )
    assert (first.accepted, first.duplicates, second.accepted, second.duplicates) == (1, 1, 0, 2)
    rows = stored(db)
    assert len(rows) == 1
    assert rows[0][2] == datetime.fromisoformat(original["occurred_at"])  # the first copy won
    assert rows[0][4] == original["input_tokens"]


def test_the_same_event_id_in_two_organizations_is_two_events(db, tmp_path):
    rows = [event(1), event(1, organization_id=ORG_B, user_id=UB, api_key_id=KB)]
    result = ingest_file(
        write_ndjson(tmp_path / "x.ndjson", rows), database_url=db, config=test_config(tmp_path)
    )
    assert (result.accepted, result.duplicates) == (2, 0)


INVALID = [
    # (line or event, reason)
    ("{not json", "malformed_record"),
    ('{"event_id": "x", "event_id": "y"}', "malformed_record"),
    ("[1, 2]", "invalid_type"),
    (event(1, extra_field=1), "unknown_field"),
    (event(2, model=...), "missing_field"),
    (event(3, input_tokens="12"), "invalid_type"),
    (event(4, input_tokens=1.5), "invalid_type"),
    (event(5, status=None), "invalid_type"),
    (event(6, output_tokens=-1), "invalid_value"),
    (event(7, latency_ms=2**31), "invalid_value"),
    (event(8, organization_id="not-a-uuid"), "invalid_value"),
    (event(9, occurred_at="2026-01-01T10:00:00"), "invalid_value"),  # no offset
    (event(10, status="ok"), "invalid_value"),
    (event(11, error_code="rate_limit"), "invalid_value"),  # on a success
    (event(12, operation="Chat Completions"), "invalid_value"),
    (event(13, event_id=""), "invalid_value"),
    (event(14, event_id="a\u0000b"), "invalid_value"),
    (event(15, metadata=[1, 2]), "invalid_type"),
    (event(16, organization_id="99999999-0000-4000-8000-000000000000"), "unknown_organization"),
    (event(17, organization_id=ORG_C, user_id=None, api_key_id=None), "organization_not_active"),
    (event(18, model="openai/gpt-9@2030-01-01"), "unknown_model"),
    (event(19, api_key_id=KB), "api_key_not_in_organization"),
    (event(20, user_id=UB), "user_not_in_organization"),
    (event(21, ago=-timedelta(hours=1)), "occurred_in_future"),
    (event(22, ago=timedelta(days=40)), "older_than_retention"),
    (
        event(23, ago=timedelta(days=10)),
        "no_partition",
    ),  # retention 30 d here, partitions: 7 d back
    (event(24, api_key_id=KA_REVOKED, ago=timedelta(minutes=10)), "api_key_inactive"),
    (event(25, model=NEW_MODEL), "no_price"),  # priced only since an hour ago
    (event(26, metadata={"a": json.loads("[" * 32 + "]" * 32)}), "too_deep"),  # 33 levels
    (event(27, metadata={"big": 10**101}), "value_out_of_range"),
    # 1000 + 127001 cache reads > gpt-4o's 128000: the cached tokens counted twice, say
    (event(28, input_tokens=1000, cache_read_input_tokens=127_001), "exceeds_context_window"),
    (event(29, reasoning_output_tokens=5), "unpriced_category"),  # the world's prices: in/out only
]


def test_every_invalid_class_is_quarantined_with_its_reason(db, tmp_path):
    cases = INVALID
    good = [event(100), event(101, api_key_id=KA_REVOKED, ago=timedelta(hours=2))]  # revoked later
    rows = [c for c, _ in cases] + good
    path = write_ndjson(tmp_path / "mixed.ndjson", rows)
    result = ingest_file(path, database_url=db, config=test_config(tmp_path, max_event_age_days=30))
    assert (result.state, result.submitted, result.accepted) == ("loaded", len(rows), 2)
    assert result.quarantined == len(cases)
    assert result.submitted == result.accepted + result.duplicates + result.quarantined
    found = {line: (reason, payload) for line, reason, _, payload, _ in quarantine(db)}
    lines = path.read_text().splitlines()
    for line_no, (_, reason) in enumerate(cases, 1):
        assert found[line_no] == (reason, lines[line_no - 1]), line_no
    # not UTF-8: the next test; too large: test_ingest_bad_lines.py
    assert {reason for _, reason in cases} == set(REASONS) - {"invalid_encoding", "too_large"}


def test_a_line_that_is_not_utf8_is_quarantined_as_bytes(db, tmp_path):
    path = tmp_path / "bytes.ndjson"
    good = write_ndjson(tmp_path / "tmp.ndjson", [event(1)]).read_bytes()
    path.write_bytes(
        good + b'{"event_id": "\xff\xfe"}\n' + good.replace(b"evt-000001", b"evt-000002")
    )
    result = ingest_file(path, database_url=db, config=test_config(tmp_path))
    assert (result.accepted, result.quarantined) == (2, 1)
    [(line, reason, _, payload, encoding)] = quarantine(db)
    assert (line, reason, encoding) == (2, "invalid_encoding", "base64")


def test_cost_is_the_price_in_effect_at_occurred_at(db, tmp_path):
    change = price_change(db)
    before = event(
        1,
        occurred_at=iso(change - timedelta(microseconds=1)),
        input_tokens=123_457,
        output_tokens=3,
    )
    at = event(2, occurred_at=iso(change), input_tokens=123_457, output_tokens=3)
    after = event(3, occurred_at=iso(change + timedelta(hours=2)), input_tokens=1, output_tokens=1)
    ingest_file(
        write_ndjson(tmp_path / "c.ndjson", [before, at, after]),
        database_url=db,
        config=test_config(tmp_path),
    )
    cost = {row[1]: row[6] for row in stored(db)}
    assert cost["evt-000001"] == expected_cost(123_457, 3, OLD_PRICE)
    assert cost["evt-000002"] == expected_cost(123_457, 3, NEW_PRICE)
    assert cost["evt-000003"] == expected_cost(1, 1, NEW_PRICE) == Decimal("0.0000062500")


def test_csv_parquet_and_ndjson_store_the_same_events(operational_databases, tmp_path):
    rows = events(300) + [event(900, metadata={"team": "search", "n": 3}, ago=timedelta(hours=3))]
    rows.append(event(901, status="error", error_code="timeout"))
    bad = event(902, input_tokens=-5)
    results = {}
    for name, write in (("ndjson", write_ndjson), ("csv", write_csv), ("parquet", write_parquet)):
        url = operational_databases.create()
        make_world(url)
        path = write(tmp_path / f"usage.{name}", rows + [bad])
        result = ingest_file(path, database_url=url, config=test_config(tmp_path))
        assert (result.accepted, result.quarantined) == (302, 1), name
        results[name] = [r[:3] + r[4:8] for r in stored(url)]  # without received_at, batch
        [(line, reason, _, _, _)] = quarantine(url)
        assert (line, reason) == (304 if name == "csv" else 303, "invalid_value")  # CSV: header
        operational_databases.drop(url)
    assert results["ndjson"] == results["csv"] == results["parquet"]
    metadata = {r[1]: r[6] for r in results["ndjson"]}
    assert metadata["evt-000900"] == {"team": "search", "n": 3}


def test_a_csv_row_with_the_wrong_field_count_is_quarantined(db, tmp_path):
    path = write_csv(tmp_path / "x.csv", events(3))
    text = path.read_text().splitlines()
    text.insert(2, "only,three,fields")
    path.write_text("\n".join(text) + "\n")
    result = ingest_file(path, database_url=db, config=test_config(tmp_path))
    assert (result.submitted, result.accepted, result.quarantined) == (4, 3, 1)
    [(line, reason, _, payload, _)] = quarantine(db)
    assert (line, reason, payload) == (3, "malformed_record", "only,three,fields")


def test_the_python_api_takes_an_iterable_of_dicts(db, tmp_path):
    moment = datetime.now(UTC) - timedelta(hours=3)
    generator = (event(n, occurred_at=moment + timedelta(seconds=n)) for n in range(50))
    result = ingest_events(
        generator, database_url=db, config=test_config(tmp_path), source="unit-test"
    )
    assert (result.source, result.format, result.accepted) == ("unit-test", "ndjson", 50)


def test_late_events_mark_the_hours_they_touched(db, tmp_path):
    hours_ago = [2, 2, 26, 50]
    rows = [event(n, ago=timedelta(hours=h)) for n, h in enumerate(hours_ago)]
    rows.append(event(9, ago=timedelta(minutes=1)))  # the current hour: not late
    now = datetime.now(UTC)
    result = ingest_file(
        write_ndjson(tmp_path / "late.ndjson", rows), database_url=db, config=test_config(tmp_path)
    )
    with psycopg.connect(db) as conn:
        touched = conn.execute(
            "SELECT organization_id::text, event_hour, rows_added FROM ingest.touched_event_hours ORDER BY 2"
        ).fetchall()
    expected_hours = {}
    for row in rows:
        hour = datetime.fromisoformat(row["occurred_at"]).replace(minute=0, second=0, microsecond=0)
        expected_hours[hour] = expected_hours.get(hour, 0) + 1
    assert [(h, n) for _, h, n in touched] == sorted(expected_hours.items())
    assert {o for o, _, _ in touched} == {ORG_A}
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    assert result.late == sum(n for h, n in expected_hours.items() if h < current_hour)


def test_a_transient_failure_is_retried_with_backoff_then_dead_lettered(db, tmp_path, monkeypatch):
    path = write_ndjson(tmp_path / "x.ndjson", events(20))
    config = test_config(tmp_path, max_attempts=3, backoff_initial_seconds=0.01)
    real_load, calls = ingest_pipeline.ShardLoader.load, []

    def flaky(self, work):
        calls.append(work.chunk_no)
        if len(calls) == 1:
            raise psycopg.errors.DeadlockDetected("simulated deadlock")
        return real_load(self, work)

    monkeypatch.setattr(ingest_pipeline.ShardLoader, "load", flaky)
    result = ingest_file(path, database_url=db, config=config)
    assert (result.state, result.attempts, result.accepted) == ("loaded", 2, 20)

    def deadlock(self, work):
        raise psycopg.errors.SerializationFailure("simulated serialization failure")

    monkeypatch.setattr(ingest_pipeline.ShardLoader, "load", deadlock)
    other = write_ndjson(tmp_path / "y.ndjson", events(5, start=100))
    failed = ingest_file(other, database_url=db, config=config)
    assert (failed.state, failed.attempts) == ("dead_lettered", 3)
    assert "SerializationFailure (40001)" in failed.error
    again = ingest_file(other, database_url=db, config=config)  # not retried unless asked
    assert (again.state, again.attempts, again.replayed) == ("dead_lettered", 3, True)
    assert "dead-lettered earlier" in again.problem and "--retry-dead-lettered" in again.problem
    monkeypatch.setattr(ingest_pipeline.ShardLoader, "load", real_load)
    retried = ingest_file(other, database_url=db, config=config, retry_dead_lettered=True)
    assert (retried.state, retried.attempts, retried.accepted) == ("loaded", 4, 5)


def test_the_batch_state_machine_refuses_illegal_moves(db, tmp_path):
    result = ingest_file(
        write_ndjson(tmp_path / "x.ndjson", events(3)),
        database_url=db,
        config=test_config(tmp_path),
    )
    with (
        psycopg.connect(db) as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="cannot go from loaded to validating"),
    ):
        conn.execute(
            "UPDATE ingest.ingestion_batches SET state = 'validating' WHERE id = %s",
            (result.batch_id,),
        )
    with psycopg.connect(db) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "UPDATE ingest.ingestion_batches SET accepted = accepted + 1 WHERE id = %s",
            (result.batch_id,),
        )


def test_events_are_written_as_the_ingest_role_under_row_level_security(db, tmp_path, role_url):
    ingest_file(
        write_ndjson(tmp_path / "x.ndjson", events(4)),
        database_url=db,
        config=test_config(tmp_path),
    )
    with psycopg.connect(role_url(db, "platform_ingest")) as conn:
        assert conn.execute("SELECT count(*) FROM app.usage_events").fetchone()[0] == 0  # no tenant
        conn.execute("SELECT set_config('app.current_org_id', %s, true)", (ORG_B,))
        assert conn.execute("SELECT count(*) FROM app.usage_events").fetchone()[0] == 2
    # The loader refuses, through RLS, a row whose organization is not the tenant being loaded:
    with (
        psycopg.connect(role_url(db, "platform_ingest")) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT set_config('app.current_org_id', %s, true)", (ORG_A,))
        conn.execute(
            "INSERT INTO app.usage_events (organization_id, event_id, occurred_at, model_id, operation, "
            "input_tokens, output_tokens, latency_ms, status, cost_usd, price_id) VALUES (%s, 'x', now(), "
            "%s, 'chat', 1, 1, 1, 'success', 0, 0)",
            (ORG_B, "1d000000-0000-4000-8000-0000000000d1"),
        )
