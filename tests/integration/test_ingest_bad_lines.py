"""A line PostgreSQL or the validator would refuse for its value is quarantined with its reason,
and every other line of the file - other tenants' too - is stored (issue 9, section 1).

Before, each of these lines failed its whole batch (DuckDB out of memory, "value overflows
numeric format", "stack depth limit exceeded", an ambiguous `line_no` column, a CSV field
that is not UTF-8), which was retried, then dead-lettered: no event of the file was stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_helpers import (
    FIELDS,
    ORG_B,
    batches,
    event,
    events,
    make_world,
    quarantine,
    stored,
    test_config,
    write_csv,
    write_ndjson,
    write_parquet,
)

from dagster_project.lib.ingest import ingest_file
from dagster_project.lib.ingest.readers import PAYLOAD_PREFIX
from dagster_project.lib.ingest.schema import load_envelope, validation_sql

LIMITS = load_envelope()
MAX_LINE = LIMITS.max_line_bytes
META = LIMITS.property("metadata")


@pytest.fixture
def db(operational_db_url: str) -> str:
    make_world(operational_db_url)
    return operational_db_url


def _line(n: int, metadata_text: str) -> str:
    """Event n (organization A) as a JSON line with `metadata_text` spliced in verbatim."""
    return json.dumps(event(n, metadata={"x": 0})).replace('{"x": 0}', metadata_text)


def _ingest_around(db: str, tmp_path: Path, bad: list[str]) -> tuple:
    """Good events of organizations A and B around the bad lines; the batch's result."""
    good = events(40)
    rows: list = good[:20] + bad + good[20:]
    result = ingest_file(write_ndjson(tmp_path / "mixed.ndjson", rows), database_url=db,
                         config=test_config(tmp_path))  # fmt: skip
    return result, good


BAD_LINES = {
    # metadata numbers PostgreSQL's numeric cannot hold ("value overflows numeric format")
    "exponent beyond numeric": (_line(900, '{"n": 1e200000}'), "value_out_of_range"),
    "negative beyond numeric": (_line(901, '{"n": [-2.5E+131072]}'), "value_out_of_range"),
    "131073 digits": (_line(902, '{"n": ' + "7" * 131_073 + "}"), "value_out_of_range"),
    # jsonb input is recursive: "stack depth limit exceeded" at ~50k levels (2 MB stack)
    "nested 60000 deep": (_line(903, '{"a": ' + "[" * 60_000 + "]" * 60_000 + "}"), "too_deep"),
    "objects nested 60000 deep": (
        _line(904, '{"a": ' + '{"b": ' * 60_000 + "1" + "}" * 60_000 + "}"),
        "too_deep",
    ),
    # DuckDB's 256 MB ran out on one line of ~12 MB
    "a 12 MB line": (_line(905, json.dumps({"blob": "z" * (12 << 20)})), "too_large"),
    # a lone surrogate: DuckDB's JSON reader refuses it, PostgreSQL too
    "lone surrogate in metadata": (_line(906, '{"s": "\\ud800"}'), "malformed_record"),
    "lone surrogate in event_id": (
        json.dumps(event(907)).replace('"evt-000907"', '"\\udc00x"'),
        "malformed_record",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_a_line_the_server_would_refuse_is_quarantined_and_the_file_stored(db, tmp_path, case):
    bad, reason = BAD_LINES[case]
    result, good = _ingest_around(db, tmp_path, [bad])
    assert (result.state, result.error) == ("loaded", None)
    assert (result.submitted, result.accepted, result.quarantined) == (41, 40, 1)
    assert {(r[0], r[1]) for r in stored(db)} == {
        (e["organization_id"], e["event_id"]) for e in good
    }
    [(line, found, detail, payload, encoding)] = quarantine(db)
    assert (line, found) == (21, reason), detail
    if reason == "too_large":
        assert len(payload.encode()) <= PAYLOAD_PREFIX and bad.startswith(payload)
        assert str(len(bad)) in detail and str(MAX_LINE) in detail
    else:
        assert (payload, encoding) == (bad, "utf8")


def test_every_kind_of_bad_line_in_one_file(db, tmp_path):
    bad = [line for line, _ in BAD_LINES.values()]
    result, good = _ingest_around(db, tmp_path, bad)
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 40, len(bad))
    reasons = [r[1] for r in quarantine(db)]
    assert reasons == [reason for _, reason in BAD_LINES.values()]
    assert len(stored(db)) == 40


def test_the_bounds_themselves_are_accepted(db, tmp_path):
    """At each bound exactly, the line is stored: the limits are the schema's, not lower."""
    depth = META.max_depth - 1  # the metadata object itself is the first level
    digits = "9" * META.max_number_length
    exponent = "9" * META.max_exponent_digits
    lines = [
        _line(1, '{"a": ' + "[" * depth + "]" * depth + "}"),
        _line(2, '{"n": ' + digits + "}"),
        _line(3, '{"n": 1e' + exponent + ', "m": -1e-' + exponent + "}"),
        _line(4, '{"s": "\\ud83d\\ude00"}'),  # a surrogate pair is one character
    ]
    filler = "y" * (MAX_LINE - len(_line(5, '{"f": ""}')))
    lines.append(_line(5, '{"f": "' + filler + '"}'))
    assert len(lines[-1].encode()) == MAX_LINE
    result = ingest_file(write_ndjson(tmp_path / "edge.ndjson", lines), database_url=db,
                         config=test_config(tmp_path))  # fmt: skip
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 5, 0), quarantine(db)
    metadata = {r[1]: r[7] for r in stored(db)}
    assert metadata["evt-000004"] == {"s": "\U0001f600"}
    assert len(metadata["evt-000005"]["f"]) == len(filler)


def test_a_file_of_large_lines_is_cut_into_chunks_the_validator_can_hold(db, tmp_path):
    """40 lines of ~900 KiB (each within the bound, 36 MiB in all): before, one chunk of them
    ran DuckDB out of memory and the batch was dead-lettered."""
    rows = [event(n, metadata={"blob": "b" * (900 << 10)}) for n in range(40)]
    result = ingest_file(write_ndjson(tmp_path / "big.ndjson", rows), database_url=db,
                         config=test_config(tmp_path))  # fmt: skip
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 40, 0)


# -- CSV and Parquet: columns by position, rows that are not text, rows too large ----------------


def test_a_csv_column_named_line_no_is_an_unknown_property(db, tmp_path):
    rows = events(6)
    path = tmp_path / "x.csv"
    header = ",".join(FIELDS) + ",line_no\n"
    body = write_csv(tmp_path / "plain.csv", rows).read_text().splitlines()[1:]
    # line_no given on rows 2 and 5 only (an empty field is no value)
    body = [line + (",7" if i in (1, 4) else ",") for i, line in enumerate(body)]
    path.write_text(header + "\n".join(body) + "\n")
    result = ingest_file(path, database_url=db, config=test_config(tmp_path))
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 4, 2)
    assert [(r[0], r[1], r[2]) for r in quarantine(db)] == [
        (3, "unknown_field", "line_no"), (6, "unknown_field", "line_no")
    ]  # fmt: skip


def test_a_parquet_column_named_line_no_is_an_unknown_property(db, tmp_path):
    rows = events(5)
    table = pq.read_table(write_parquet(tmp_path / "p.parquet", rows))
    table = table.append_column("line_no", pa.array([None, 3, None, None, None], pa.int64()))
    pq.write_table(table, tmp_path / "with_line_no.parquet")
    result = ingest_file(tmp_path / "with_line_no.parquet", database_url=db,
                         config=test_config(tmp_path))  # fmt: skip
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 4, 1)
    [(line, reason, detail, payload, _)] = quarantine(db)
    assert (line, reason, detail) == (2, "unknown_field", "line_no")
    assert json.loads(payload)["line_no"] == 3


def test_a_duplicated_header_makes_every_row_name_a_key_twice(db, tmp_path):
    """Which of two `error_code` columns is meant? Neither: each row is quarantined, even when
    one of the two is empty. A later file without the defect loads."""
    rows = events(4)
    plain = write_csv(tmp_path / "plain.csv", rows).read_text().splitlines()
    text = [plain[0] + ",error_code"] + [line + "," for line in plain[1:]]
    path = tmp_path / "dup.csv"
    path.write_text("\n".join(text) + "\n")
    result = ingest_file(path, database_url=db, config=test_config(tmp_path))
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 0, 4)
    assert {(r[1], r[2]) for r in quarantine(db)} == {("malformed_record", "a key appears twice")}
    again = ingest_file(write_csv(tmp_path / "fixed.csv", rows), database_url=db,
                        config=test_config(tmp_path))  # fmt: skip
    assert (again.state, again.accepted) == ("loaded", 4)


def test_a_duplicated_parquet_column_makes_every_row_name_a_key_twice(db, tmp_path):
    rows = events(3)
    table = pq.read_table(write_parquet(tmp_path / "p.parquet", rows))
    table = table.append_column("model", table["model"])
    pq.write_table(table, tmp_path / "dup.parquet")
    result = ingest_file(tmp_path / "dup.parquet", database_url=db, config=test_config(tmp_path))
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 0, 3)
    assert {r[1] for r in quarantine(db)} == {"malformed_record"}


def test_a_csv_row_that_is_not_utf8_is_quarantined_as_bytes(db, tmp_path):
    rows = events(5)
    data = write_csv(tmp_path / "x.csv", rows).read_bytes()
    path = tmp_path / "latin1.csv"
    path.write_bytes(data.replace(b"evt-000002", b"evt-\xe9\xe9"))
    result = ingest_file(path, database_url=db, config=test_config(tmp_path))
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 4, 1)
    [(line, reason, _, _, encoding)] = quarantine(db)
    assert (line, reason, encoding) == (4, "invalid_encoding", "base64")


@pytest.mark.parametrize(
    ("fmt", "mib"),
    [("csv", 3), ("parquet", 3), ("csv", 20)],  # 20: longer than pyarrow's CSV block (16 MiB)
)
def test_a_csv_or_parquet_row_too_large_is_quarantined(db, tmp_path, fmt, mib):
    rows = events(6)
    rows[3] = dict(rows[3], metadata={"blob": "q" * (mib << 20)})
    write = write_csv if fmt == "csv" else write_parquet
    result = ingest_file(write(tmp_path / f"big.{fmt}", rows), database_url=db,
                         config=test_config(tmp_path))  # fmt: skip
    assert (result.state, result.accepted, result.quarantined) == ("loaded", 5, 1)
    [(line, reason, _, payload, _)] = quarantine(db)
    assert (line, reason) == (5 if fmt == "csv" else 4, "too_large")
    assert len(payload.encode()) <= PAYLOAD_PREFIX


# -- strict RFC 3339 -----------------------------------------------------------------------------

NOT_RFC3339 = [
    "2026-01-01T10:00:00+99:99",  # was shifted by 100 hours
    "2026-01-01T10:00:00+47:30",  # hid a future event
    "2026-01-01T24:00:00Z",  # was taken as the next midnight
    "2026-01-01T10:00:00+24:00",
    "2026-01-01T10:00:00-10:60",
    "2026-01-01T10:60:00Z",
    "2026-01-01T23:59:60Z",  # a leap second: not representable, refused
    "2026-13-01T10:00:00Z",
    "2026-00-10T10:00:00Z",
    "2026-02-29T10:00:00Z",
    "2026-04-31T10:00:00Z",
    "2026-01-01t10:00:00Z",  # RFC 3339 allows it; the envelope's pattern asks for upper case
    "2026-01-01T10:00:00+0530",
]


def test_occurred_at_must_be_strict_rfc3339(db, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    local = now.astimezone(ZoneInfo("Asia/Kolkata"))
    good = [event(0, occurred_at=local.isoformat()),  # +05:30
            event(1, occurred_at=now.isoformat().replace("+00:00", "-00:00")),
            event(2, occurred_at=now.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"))]  # fmt: skip
    bad = [event(10 + i, occurred_at=value) for i, value in enumerate(NOT_RFC3339)]
    result = ingest_file(write_ndjson(tmp_path / "t.ndjson", good + bad), database_url=db,
                         config=test_config(tmp_path, max_event_age_days=30))  # fmt: skip
    assert (result.accepted, result.quarantined) == (3, len(bad))
    assert {r[1] for r in quarantine(db)} == {"invalid_value"}
    assert all("occurred_at" in r[2] for r in quarantine(db))
    times = {r[1]: r[2] for r in stored(db)}
    assert times["evt-000000"] == times["evt-000001"] == now
    assert times["evt-000002"] == now + timedelta(microseconds=123456)


# -- files as spreadsheets write them ------------------------------------------------------------


def _same_events(db: str) -> list[tuple]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT organization_id::text, event_id, occurred_at, input_tokens, output_tokens, "
            "status, error_code, cost_usd, metadata::text FROM app.usage_events ORDER BY 1, 2"
        ).fetchall()


def test_bom_crlf_and_quoted_newlines_load_like_a_plain_file(operational_databases, tmp_path):
    rows = events(8)
    rows[2] = dict(rows[2], status="error", error_code="upstream said:\n  overloaded")
    rows[5] = dict(rows[5], metadata={"note": "two\nlines", "n": 1})
    results = {}
    for name in ("plain", "ndjson-bom-crlf", "csv-bom-crlf", "csv-bom-lf"):
        url = operational_databases.create()
        make_world(url)
        if name == "plain":
            path = write_ndjson(tmp_path / "plain.ndjson", rows)
        elif name == "ndjson-bom-crlf":
            text = "".join(json.dumps(r) + "\r\n" for r in rows)
            path = tmp_path / "bom.ndjson"
            path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        else:
            plain = write_csv(tmp_path / "plain.csv", rows).read_bytes()  # CRLF, as csv writes
            assert b"\r\n" in plain and b"said:\n  overloaded" in plain  # a quoted newline
            if name == "csv-bom-lf":
                plain = plain.replace(b"\r\n", b"\n")
            path = tmp_path / f"{name}.csv"
            path.write_bytes(b"\xef\xbb\xbf" + plain)
        result = ingest_file(path, database_url=url, config=test_config(tmp_path))
        assert (result.state, result.accepted, result.quarantined) == ("loaded", 8, 0), (
            name, quarantine(url))  # fmt: skip
        results[name] = _same_events(url)
        operational_databases.drop(url)
    assert results["ndjson-bom-crlf"] == results["plain"]
    assert results["csv-bom-crlf"] == results["csv-bom-lf"] == results["plain"]
    by_id = {r[1]: r for r in results["plain"]}
    assert by_id["evt-000002"][6] == "upstream said:\n  overloaded"
    assert json.loads(by_id["evt-000005"][8]) == {"n": 1, "note": "two\nlines"}


def test_a_bom_csv_whose_first_column_holds_digits_keeps_them_as_text(db, tmp_path):
    """Before, the mark hid the first column's name from the all-text reading, so pyarrow
    typed it: an event_id of digits became a number (invalid_type)."""
    rows = [event(n, event_id=str(1000 + n)) for n in range(3)]
    plain = write_csv(tmp_path / "plain.csv", rows).read_bytes()
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + plain)
    result = ingest_file(path, database_url=db, config=test_config(tmp_path))
    assert (result.accepted, result.quarantined) == (3, 0), quarantine(db)
    assert sorted(r[1] for r in stored(db)) == ["1000", "1001", "1002"]


# -- the class: whatever the validator accepts in metadata, PostgreSQL stores ------------------


number = st.builds(
    lambda sign, digits, frac, exp_sign, exp: f"{sign}{digits}{frac}{exp_sign}{exp}",
    st.sampled_from(["", "-"]),
    st.one_of(st.just("0"), st.from_regex(r"[1-9][0-9]{0,150}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,150}", fullmatch=True)),
    st.sampled_from(["e", "E+", "e-", "E"]),
    st.one_of(st.integers(0, 99_999), st.integers(0, 10**7)).map(str),
) | st.from_regex(r"-?[1-9][0-9]{0,300}", fullmatch=True)
nesting = st.integers(1, 200).flatmap(
    lambda depth: st.lists(st.sampled_from("[{"), min_size=depth, max_size=depth)
)


def _nest(opening: list[str], leaf: str) -> str:
    text = leaf
    for bracket in reversed(opening):
        text = f"[{text}]" if bracket == "[" else '{"k": ' + text + "}"
    return text


@pytest.fixture(scope="module")
def server(operational_databases):
    url = operational_databases.create()
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn
    operational_databases.drop(url)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(numbers=st.lists(number, min_size=1, max_size=3), opening=nesting)
def test_metadata_the_validator_accepts_is_metadata_postgresql_stores(server, numbers, opening):
    """The validator's verdict on generated numbers and nestings, against the server's own
    jsonb input of the text DuckDB would send: everything within the envelope's bounds is
    accepted, nothing deeper, and PostgreSQL takes all it accepts. (A long number that fits
    a double is accepted: DuckDB sends it shortened.)"""

    metadata = '{"v": [' + ", ".join(numbers) + "], " + '"d": ' + _nest(opening, "1") + "}"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("chunk", pa.table({"line_no": [1], "raw": [_line(1, metadata)]}))
    [(ok, text)] = con.execute(f"SELECT ok, metadata FROM ({validation_sql(LIMITS)})").fetchall()
    depth = 1 + len(opening)
    within = depth <= META.max_depth and all(
        len(n) <= META.max_number_length
        and len(n.lower().partition("e")[2].lstrip("+-").lstrip("0")) <= META.max_exponent_digits
        for n in numbers
    )  # fmt: skip
    assert ok or not within, (metadata[:300], text)
    assert not (ok and depth > META.max_depth)
    if ok:
        server.execute("SELECT %s::jsonb", (text,))  # raises if the server refuses it


def test_nothing_is_lost_when_a_bad_line_and_good_lines_share_a_chunk_and_shard(db, tmp_path):
    """Organization B's events in the same chunk as A's bad line are stored, with counts."""
    bad = _line(999, '{"n": 1e999999}')
    rows = [event(n, organization_id=ORG_B, user_id=None, api_key_id=None) for n in range(10)]
    result = ingest_file(write_ndjson(tmp_path / "b.ndjson", rows[:5] + [bad] + rows[5:]),
                         database_url=db, config=test_config(tmp_path, shards=1))  # fmt: skip
    assert (result.accepted, result.quarantined) == (10, 1)
    [(_, state, submitted, accepted, duplicates, quarantined, _)] = batches(db)
    assert (state, submitted, accepted, duplicates, quarantined) == ("loaded", 11, 10, 0, 1)
