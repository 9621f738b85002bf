"""occurred_at is strict RFC 3339: the compiled check (DuckDB) against an independent parser
written here from RFC 3339 section 5.6, on timestamps built from out-of-range parts."""

from __future__ import annotations

import calendar
import json
import re
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from dagster_project.lib.ingest.schema import load_envelope, reference_validator, validation_sql

ENVELOPE = load_envelope()
VALIDATOR = reference_validator()
VALID = {
    "event_id": "evt-1",
    "organization_id": "f5987203-9387-593e-8af1-87f781e5f8ae",
    "model": "openai/gpt-4o@2024-08-06",
    "operation": "chat.completions",
    "occurred_at": "2026-11-21T10:00:00Z",
    "input_tokens": 10,
    "output_tokens": 5,
    "latency_ms": 100,
    "status": "success",
}

# RFC 3339 5.6: date-fullyear "-" date-month "-" date-mday "T" time-hour ":" time-minute ":"
# time-second [time-secfrac] time-offset, with time-numoffset = ("+" / "-") time-hour ":"
# time-minute. The envelope asks for upper-case T and Z, and refuses the leap second (60).
GRAMMAR = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):"
    r"(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?(?:Z|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
)


def strict(value: str) -> datetime | None:
    """The instant `value` names (UTC, microseconds truncated), or None if it is not one."""
    m = GRAMMAR.fullmatch(value)
    if m is None:
        return None
    year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
    hour, minute, second = int(m["h"]), int(m["mi"]), int(m["s"])
    if not (year >= 1 and 1 <= month <= 12 and hour <= 23 and minute <= 59 and second <= 59):
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    offset = timedelta(0)
    if m["sign"]:
        if int(m["oh"]) > 23 or int(m["om"]) > 59:
            return None
        offset = timedelta(hours=int(m["oh"]), minutes=int(m["om"]))
        offset = -offset if m["sign"] == "-" else offset
    micro = int((m["f"] or "0")[:6].ljust(6, "0"))
    local = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    try:
        return local - offset
    except OverflowError:  # before year 1 in UTC: valid, only Python cannot hold it
        return datetime.min.replace(tzinfo=UTC)


def two(high: int) -> st.SearchStrategy[str]:
    return st.integers(0, high).map(lambda n: f"{n:02d}")


timestamps = st.builds(
    lambda y, mo, d, h, mi, s, f, t, z: f"{y}-{mo}-{d}{t}{h}:{mi}:{s}{f}{z}",
    st.one_of(st.integers(1970, 2100), st.integers(0, 9999)).map(lambda n: f"{n:04d}"),
    two(19),
    two(39),
    two(29),
    two(69),
    two(69),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,10}", fullmatch=True)),
    st.sampled_from(["T", "T", "T", "t", " "]),
    st.one_of(
        st.sampled_from(["Z", "Z", "z", "", "+0530", "+05", "-00:00"]),
        st.builds(lambda sign, h, m: f"{sign}{h}:{m}", st.sampled_from("+-"), two(99), two(99)),
    ),
)


def _compiled(values: list[str]) -> list[tuple[bool, datetime | None]]:
    lines = [json.dumps(dict(VALID, occurred_at=v)) for v in values]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("chunk", pa.table({"line_no": list(range(len(lines))), "raw": lines}))
    return con.execute(
        f"SELECT ok, occurred_at FROM ({validation_sql(ENVELOPE)}) ORDER BY line_no"
    ).fetchall()


@settings(max_examples=60, deadline=None)
@given(st.lists(timestamps, min_size=1, max_size=50))
def test_occurred_at_is_valid_exactly_when_strict_rfc3339_says_so(values):
    for value, (ok, instant) in zip(values, _compiled(values), strict=True):
        expected = strict(value)
        assert ok == (expected is not None), value
        assert VALIDATOR.is_valid(dict(VALID, occurred_at=value)) == ok, value
        if ok and expected.year > 1:
            assert instant == expected, value


def test_the_examples_of_the_issue():
    values = ["2026-01-01T10:00:00+99:99", "2026-01-01T10:00:00+47:30", "2026-01-01T24:00:00Z",
              "2026-01-01T10:00:00+23:59", "2026-01-01T10:00:00.123456789-00:00"]  # fmt: skip
    assert [ok for ok, _ in _compiled(values)] == [False, False, False, True, True]
