"""The compiled fast lane (lib/ingest/fastlane.py) is only ever stricter than the schema: a line
it accepts is valid and gets exactly the typed values the full check gives it; a line it does
not accept still gets the full check's verdict."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_schema import ENVELOPE, VALID, VALIDATOR, envelopes

from dagster_project.lib.ingest.fastlane import DATETIME, ENUM, INTEGER, OBJECT, FastLane
from dagster_project.lib.ingest.schema import compile_envelope, load_schema_document
from dagster_project.lib.ingest.validate import TypedLines

LANE = FastLane.for_envelope(ENVELOPE)


def _chunk(lines: list[str | None]) -> pa.Table:
    return pa.table({
        "line_no": pa.array(range(1, len(lines) + 1), pa.int64()),
        "raw": pa.array(lines, pa.string()),
    })  # fmt: skip


def _typed(lines: list[str | None], *, use_lane: bool) -> list[dict[str, Any]]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    TypedLines(con, ENVELOPE, use_lane=use_lane).build(_chunk(lines))
    rows = con.execute("SELECT * FROM typed ORDER BY line_no").fetch_arrow_table().to_pylist()
    for row in rows:  # metadata: the lane keeps the text as sent, the full check re-renders it
        if row["metadata"] is not None:
            row["metadata"] = json.loads(row["metadata"])
    return rows


def _accepted(lines: list[str | None]) -> list[bool]:
    return LANE.scan(_chunk(lines)).accepted.tolist()


def test_the_envelope_has_a_lane_for_every_property():
    assert LANE is not None
    kinds = dict(zip(ENVELOPE.names, LANE.kinds.tolist(), strict=True))
    assert kinds["input_tokens"] == INTEGER and kinds["status"] == ENUM
    assert kinds["occurred_at"] == DATETIME and kinds["metadata"] == OBJECT


def test_a_rule_the_lane_does_not_know_turns_it_off():
    doc = load_schema_document()
    doc["properties"]["model"]["pattern"] = "^[a-z]+/"
    assert FastLane.for_envelope(compile_envelope(doc)) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(envelopes(), min_size=1, max_size=30), st.booleans())
def test_the_lane_is_sound_and_agrees_with_the_full_check(events, compact):
    separators = (",", ":") if compact else (", ", ": ")
    lines = [json.dumps(e, separators=separators) for e in events]
    typed = _typed(lines, use_lane=True)
    # The verdict through the lane is JSON Schema's, and the values the full check's.
    assert [row["ok"] for row in typed] == [VALIDATOR.is_valid(e) for e in events]
    assert typed == _typed(lines, use_lane=False)


def _line(**changes: Any) -> str:
    return json.dumps({**VALID, **changes})


VALID_BUT_NOT_PLAIN = [
    _line(input_tokens=1.0),  # an integer by JSON Schema, written as a float
    _line(event_id="a\\\"b"),  # an escape
    _line(model="openai/gpt-4o@2024-08-06", metadata={"t": "caf\u00e9"}).replace("\u00e9", "\\u00e9"),
    _line(metadata={"n": 1e30}),  # an exponent
]
# The scan takes these (the pattern holds), DuckDB's cast refuses them: the full check decides.
NOT_DATES = [_line(occurred_at="2026-02-30T00:00:00Z"), _line(occurred_at="0000-01-01T00:00:00Z")]
INVALID = [
    "\ufeff" + _line(),  # a byte order mark is not JSON whitespace
    '{"event_id": "x", "event_id": "y"}',
    _line()[:-1] + ', "event_id": "again"}',  # a repeated key, otherwise valid
    _line()[:-1] + ', "extra": 1}',
    _line(status="ok"),
    _line(error_code="late"),  # on a success
    _line(occurred_at="2026-01-01t00:00:00Z"),
    _line(organization_id="F5987203-9387-593E-8AF1-87F781E5F8A"),
    _line(operation="Chat"),
    _line(input_tokens=2**31),
    _line(input_tokens=-1),
    _line(event_id=""),
    _line(event_id="é" * 129),
    _line(metadata=[1]),
    _line(metadata={"a": float("nan")}),
    _line(metadata={"a": "\u0000"}),
    _line()[:-1] + ', "metadata": {"a": [1, 2}}',
    _line()[:-1] + ", ",
    _line() + " x",
    "[1]",
    "",
    None,
]


def test_plainly_valid_lines_take_the_lane_and_the_rest_the_full_check():
    lines = [_line(), _line(metadata=None), _line(user_id=None, api_key_id=None),
             _line(status="error", error_code="rate_limited"),
             _line(metadata={"a": [1, -2.5, {"b": None, "c": [True, False]}], "d": "x\\ny"}),
             json.dumps(VALID, indent=2).replace("\n", " \t"),  # whitespace everywhere
             *VALID_BUT_NOT_PLAIN, *NOT_DATES, *INVALID]  # fmt: skip
    plain = 6
    assert _accepted(lines) == (
        [True] * plain + [False] * len(VALID_BUT_NOT_PLAIN) + [True] * len(NOT_DATES)
        + [False] * len(INVALID)
    )  # fmt: skip
    lane, full = _typed(lines, use_lane=True), _typed(lines, use_lane=False)
    assert lane == full
    assert [row["ok"] for row in full] == (
        [True] * (plain + len(VALID_BUT_NOT_PLAIN)) + [False] * (len(NOT_DATES) + len(INVALID))
    )


def test_metadata_deeper_than_the_lane_goes_to_the_full_check():
    deep = {"a": 1}
    for _ in range(70):
        deep = {"a": deep}
    lines = [_line(metadata=deep), _line(metadata={"a": [[[[1]]]]})]
    assert _accepted(lines) == [False, True]
    assert _typed(lines, use_lane=True) == _typed(lines, use_lane=False)


@pytest.mark.parametrize("crlf", [False, True])
def test_line_endings_are_whitespace(crlf):
    line = _line() + ("\r\n" if crlf else "\n")
    assert _accepted([line]) == [True]
