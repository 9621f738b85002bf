"""The fast lane: a compiled scan that accepts the common, plainly valid envelope line directly.

    lane = FastLane.for_envelope(envelope)   # None when the schema asks for something it can't
    scanned = lane.scan(chunk)                # chunk: Arrow table (line_no int64, raw string)
    scanned.rows       # Arrow table: line_no + one column per property, as text / int64
    scanned.accepted   # bool per chunk row: in `rows`

Why: DuckDB's JSON functions need four passes and ~60 vectorised expressions to check a line
against the schema, 6-8 us of the client's ~15 us per event (docs/performance.md, "ingest").
This scan (numba, one pass over the bytes, ~1 us) handles the lines every producer sends:

  * a JSON object whose keys are the envelope's property names (no escapes), each at most once,
    every required one present;
  * strings without escapes, within their length limits (counted in code points), integers
    without sign, fraction or exponent within their bounds, null where the type allows it;
  * uuids exactly as the schema's pattern, operation and occurred_at exactly as theirs (the
    calendar check of occurred_at is DuckDB's cast, as in the full check), status from its enum,
    no error_code on a success;
  * metadata null or an object of well-formed JSON without \\u escapes or exponents, at most 64
    levels deep.

Anything else is not judged here: the line goes to the full check (lib/ingest/schema.py), which
decides and, when invalid, names the reason. So the lane can only be stricter than the schema,
never looser: a line it accepts is valid, with the same typed values the full check would give
(tests/unit/test_ingest_fastlane.py checks both on arbitrary envelopes). Metadata keeps the text
as sent (jsonb parses it either way).

numba compiles the scan the first time a process uses it (~8 s here) and caches the machine
code (cache=True: __pycache__ beside this file, or the user's cache directory when that is
not writable), so later processes load it in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numba import njit

from dagster_project.lib.ingest.schema import _UUID, Envelope

# Property kinds the scan implements.
STRING, UUID, OPERATION, DATETIME, INTEGER, ENUM, OBJECT = range(7)
_OPERATION_PATTERN = "^[a-z][a-z0-9_.]{0,63}$"
_DATETIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
MAX_DEPTH = 64  # deeper metadata goes to the full check (PostgreSQL's jsonb takes far more)
MAX_NUMBER = 100  # digits of a metadata number kept here; longer ones: full check


@dataclass
class Scanned:
    rows: pa.Table  # line_no + the properties of the accepted lines
    accepted: np.ndarray  # bool per chunk row


class FastLane:
    def __init__(self, envelope: Envelope, kinds, required, nullable, min_len, max_len,
                 names, enum_values, conditional) -> None:  # fmt: skip
        self.envelope = envelope
        self.kinds = np.array(kinds, np.int8)
        self.required = np.array(required, np.bool_)
        self.nullable = np.array(nullable, np.bool_)
        self.min_len = np.array(min_len, np.int64)
        self.max_len = np.array(max_len, np.int64)
        self.names = names
        self.name_bytes, self.name_offsets = _packed([n.encode() for n in names])
        self.enum_bytes, self.enum_offsets = _packed([v.encode() for v in enum_values])
        self.conditional = np.array(conditional, np.int64)  # when, enum index, then; or -1s

    @classmethod
    def for_envelope(cls, envelope: Envelope) -> FastLane | None:
        """The lane for this schema, or None if any property needs a rule it does not know
        (then every line takes the full check, as before the lane existed)."""
        kinds, required, nullable, min_len, max_len, enums = [], [], [], [], [], []
        enum_owner = None
        for i, p in enumerate(envelope.properties):
            types = set(p.types) - {"null"}
            kind = _kind(p, types)
            if kind is None:
                return None
            if kind == ENUM:
                if enum_owner is not None:
                    return None  # one enum property is all the scan keeps
                enum_owner, enums = i, list(p.enum)
            if kind in (INTEGER, ENUM) and (not p.required or "null" in p.types):
                return None  # the scan stores integers and the enum for present values only
            kinds.append(kind)
            required.append(p.required)
            nullable.append("null" in p.types)  # an explicit null; absent is `required`'s business
            min_len.append(p.min_length if p.min_length is not None else
                           (p.minimum if p.minimum is not None else 0))  # fmt: skip
            max_len.append(p.max_length if p.max_length is not None else
                           (p.maximum if p.maximum is not None else 2**62))  # fmt: skip
        conditional = [-1, -1, -1]
        if len(envelope.conditionals) > 1:
            return None
        for c in envelope.conditionals:
            names = envelope.names
            when, then = names.index(c.when), names.index(c.then)
            if when != enum_owner or c.equals not in enums:
                return None
            conditional = [when, enums.index(c.equals), then]
        return cls(envelope, kinds, required, nullable, min_len, max_len, list(envelope.names),
                   enums, conditional)  # fmt: skip

    def scan(self, chunk: pa.Table) -> Scanned:
        raw = chunk["raw"].combine_chunks()
        if raw.type != pa.string():
            raw = raw.cast(pa.string())
        offsets = np.frombuffer(raw.buffers()[1], np.int32)[raw.offset : raw.offset + len(raw) + 1]
        data = raw.buffers()[2]
        buf = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
        valid = raw.is_valid().to_numpy(zero_copy_only=False)
        count, fields = len(raw), len(self.names)
        ok = np.zeros(count, np.bool_)
        # one row per property (column-major: each property's spans are contiguous)
        starts = np.full((fields, count), -1, np.int64)
        ends = np.full((fields, count), -1, np.int64)
        ints = np.zeros((fields, count), np.int64)
        _scan(buf, offsets.astype(np.int64), valid, self.kinds, self.required, self.nullable,
              self.min_len, self.max_len, self.name_bytes, self.name_offsets, self.enum_bytes,
              self.enum_offsets, self.conditional, ok, starts, ends, ints)  # fmt: skip
        take = np.flatnonzero(ok)
        columns = {"line_no": chunk["line_no"].combine_chunks().take(pa.array(take))}
        for i, name in enumerate(self.names):
            if self.kinds[i] == INTEGER:
                columns[name] = pa.array(ints[i][take], pa.int64())
            else:
                columns[name] = _strings(buf, starts[i], ends[i], take)
        return Scanned(pa.table(columns), ok)


def warm() -> bool:
    """Compile (or load from numba's cache) every function of the scan now, on a one-line
    chunk, so the first real batch does not pay for it. `make setup` runs it. True if the
    envelope has a lane."""
    from dagster_project.lib.ingest.schema import load_envelope

    lane = FastLane.for_envelope(load_envelope())
    if lane is None:
        return False
    lane.scan(pa.table({"line_no": pa.array([1], pa.int64()), "raw": pa.array(["{}"])}))
    return True


def _kind(p, types: set[str]) -> int | None:
    if types == {"integer"} and p.enum is None and p.pattern is None and p.format is None:
        return INTEGER
    if types == {"object"} and p.enum is None:
        return OBJECT
    if types != {"string"}:
        return None
    if p.enum is not None:
        simple = all(isinstance(v, str) and v.isascii() and v.isprintable() and '"' not in v
                     and "\\" not in v for v in p.enum)  # fmt: skip
        return ENUM if simple and p.pattern is None and p.format is None else None
    if p.format == "uuid" and p.pattern == f"^{_UUID}$":
        return UUID
    if p.format == "date-time" and p.pattern == _DATETIME_PATTERN:
        return DATETIME
    if p.format is None and p.pattern == _OPERATION_PATTERN and p.max_length is None:
        return OPERATION
    if p.format is None and p.pattern is None:
        return STRING
    return None


def _packed(values: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(values) + 1, np.int64)
    offsets[1:] = np.cumsum([len(v) for v in values])
    return np.frombuffer(b"".join(values) or b"\0", np.uint8).copy(), offsets


def _strings(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, take: np.ndarray) -> pa.Array:
    """The byte ranges [start, end) of the rows `take` as an Arrow string array; start -1: null."""
    offsets = np.empty(len(take) + 1, np.int32)  # a chunk's text is far below 2 GB
    present = np.empty(len(take), np.bool_)
    _lengths(starts, ends, take, offsets, present)
    out = np.empty(int(offsets[-1]), np.uint8)
    _gather(buf, starts, take, offsets, out)
    validity = None
    if not present.all():
        validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    return pa.StringArray.from_buffers(
        len(take), pa.py_buffer(offsets), pa.py_buffer(out), validity
    )


@njit(cache=True, nogil=True)
def _lengths(starts, ends, take, offsets, present):  # pragma: no cover - compiled
    offsets[0] = 0
    for r in range(len(take)):
        i = take[r]
        present[r] = starts[i] >= 0
        offsets[r + 1] = offsets[r] + (ends[i] - starts[i] if starts[i] >= 0 else 0)


@njit(cache=True, nogil=True)
def _gather(buf, starts, take, offsets, out):  # pragma: no cover - compiled
    for r in range(len(take)):
        o = offsets[r]
        s = starts[take[r]]
        for k in range(offsets[r + 1] - o):
            out[o + k] = buf[s + k]


# -- the scan (compiled) ---------------------------------------------------------------------------
# Byte values used below.
_QUOTE, _BACKSLASH, _LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 34, 92, 123, 125, 91, 93
_COMMA, _COLON, _MINUS, _PLUS, _DOT = 44, 58, 45, 43, 46


@njit(cache=True, nogil=True)
def _space(c):  # pragma: no cover - compiled
    return c == 32 or c == 9 or c == 10 or c == 13


@njit(cache=True, nogil=True)
def _skip(buf, j, end):  # pragma: no cover - compiled
    while j < end and _space(buf[j]):
        j += 1
    return j


@njit(cache=True, nogil=True)
def _digit(c):  # pragma: no cover - compiled
    return 48 <= c <= 57


@njit(cache=True, nogil=True)
def _hex(c):  # pragma: no cover - compiled
    return 48 <= c <= 57 or 97 <= c <= 102 or 65 <= c <= 70


@njit(cache=True, nogil=True)
def _plain_string(buf, j, end):  # pragma: no cover - compiled
    """buf[j] is the opening quote: the index of the closing quote, or -1 if the string has an
    escape or a control character (or does not end on this line)."""
    j += 1
    while j < end:
        c = buf[j]
        if c == _QUOTE:
            return j
        if c == _BACKSLASH or c < 32:
            return -1
        j += 1
    return -1


@njit(cache=True, nogil=True)
def _code_points(buf, s, e):  # pragma: no cover - compiled
    n = 0
    for k in range(s, e):
        if (buf[k] & 0xC0) != 0x80:
            n += 1
    return n


@njit(cache=True, nogil=True)
def _json_string(buf, j, end):  # pragma: no cover - compiled
    """buf[j] is a quote: past the string's end, allowing the simple escapes (not \\u), or -1."""
    j += 1
    while j < end:
        c = buf[j]
        if c == _QUOTE:
            return j + 1
        if c < 32:
            return -1
        if c == _BACKSLASH:
            if j + 1 >= end:
                return -1
            e = buf[j + 1]
            # " \ / b f n r t
            if not (e == 34 or e == 92 or e == 47 or e == 98 or e == 102 or e == 110
                    or e == 114 or e == 116):  # fmt: skip
                return -1
            j += 2
            continue
        j += 1
    return -1


@njit(cache=True, nogil=True)
def _json_number(buf, j, end):  # pragma: no cover - compiled
    """-?(0|[1-9][0-9]*)(.[0-9]+)? (no exponent); past it, or -1."""
    start = j
    if j < end and buf[j] == _MINUS:
        j += 1
    if j >= end or not _digit(buf[j]):
        return -1
    if buf[j] == 48:
        j += 1
    else:
        while j < end and _digit(buf[j]):
            j += 1
    if j < end and buf[j] == _DOT:
        j += 1
        if j >= end or not _digit(buf[j]):
            return -1
        while j < end and _digit(buf[j]):
            j += 1
    if j < end and (buf[j] == 101 or buf[j] == 69):  # e, E
        return -1
    if j - start > 100:  # MAX_NUMBER
        return -1
    return j


@njit(cache=True, nogil=True)
def _literal(buf, j, end, word):  # pragma: no cover - compiled
    n = len(word)
    if j + n > end:
        return -1
    for k in range(n):
        if buf[j + k] != word[k]:
            return -1
    return j + n


@njit(cache=True, nogil=True)
def _member_name(buf, j, end):  # pragma: no cover - compiled
    """At an object member's name: past the name, the colon and whitespace, or -1."""
    if j >= end or buf[j] != _QUOTE:
        return -1
    j = _json_string(buf, j, end)
    if j < 0:
        return -1
    j = _skip(buf, j, end)
    if j >= end or buf[j] != _COLON:
        return -1
    return _skip(buf, j + 1, end)


@njit(cache=True, nogil=True)
def _json_value(buf, j, end, stack, true_, false_, null_):  # pragma: no cover - compiled
    """A complete JSON value from buf[j] (not whitespace): past it, or -1. Iterative, with the
    container stack (len(stack) = MAX_DEPTH) bounded; the literals' bytes are passed in."""
    depth = 0
    while True:
        # a value at buf[j]
        if j >= end:
            return -1
        c = buf[j]
        if c == _LBRACE or c == _LBRACKET:  # noqa: SIM109 (numba: plain comparisons)
            if depth == len(stack):
                return -1
            stack[depth] = c
            depth += 1
            j = _skip(buf, j + 1, end)
            if j >= end:
                return -1
            closing = _RBRACE if c == _LBRACE else _RBRACKET
            if buf[j] == closing:  # empty container: a complete value
                depth -= 1
                j += 1
            elif c == _LBRACE:
                j = _member_name(buf, j, end)
                if j < 0:
                    return -1
                continue  # the member's value
            else:
                continue  # the first element
        elif c == _QUOTE:
            j = _json_string(buf, j, end)
        elif c == _MINUS or _digit(c):
            j = _json_number(buf, j, end)
        elif c == 116:
            j = _literal(buf, j, end, true_)
        elif c == 102:
            j = _literal(buf, j, end, false_)
        elif c == 110:
            j = _literal(buf, j, end, null_)
        else:
            return -1
        if j < 0:
            return -1
        # after a complete value: close containers, or move to the next member / element
        while True:
            if depth == 0:
                return j
            j = _skip(buf, j, end)
            if j >= end:
                return -1
            top = stack[depth - 1]
            c = buf[j]
            if c == _COMMA:
                j = _skip(buf, j + 1, end)
                if top == _LBRACE:
                    j = _member_name(buf, j, end)
                    if j < 0:
                        return -1
                break  # parse the next value
            if (top == _LBRACE and c == _RBRACE) or (top == _LBRACKET and c == _RBRACKET):
                depth -= 1
                j += 1
                continue
            return -1


@njit(cache=True, nogil=True)
def _field(buf, s, e, name_bytes, name_offsets):  # pragma: no cover - compiled
    """The index of the property named buf[s:e], or -1."""
    for f in range(len(name_offsets) - 1):
        a, b = name_offsets[f], name_offsets[f + 1]
        if b - a != e - s:
            continue
        same = True
        for k in range(b - a):
            if name_bytes[a + k] != buf[s + k]:
                same = False
                break
        if same:
            return f
    return -1


@njit(cache=True, nogil=True)
def _uuid_ok(buf, s, e):  # pragma: no cover - compiled
    if e - s != 36:
        return False
    for k in range(36):
        c = buf[s + k]
        if k == 8 or k == 13 or k == 18 or k == 23:
            if c != _MINUS:
                return False
        elif not _hex(c):
            return False
    return True


@njit(cache=True, nogil=True)
def _operation_ok(buf, s, e):  # pragma: no cover - compiled
    n = e - s
    if n < 1 or n > 64 or not (97 <= buf[s] <= 122):
        return False
    for k in range(s + 1, e):
        c = buf[k]
        if not (97 <= c <= 122 or _digit(c) or c == 95 or c == _DOT):
            return False
    return True


@njit(cache=True, nogil=True)
def _digits(buf, s, n):  # pragma: no cover - compiled
    for k in range(s, s + n):  # noqa: SIM110 (numba compiles no generator expressions)
        if not _digit(buf[k]):
            return False
    return True


@njit(cache=True, nogil=True)
def _datetime_ok(buf, s, e):  # pragma: no cover - compiled
    """YYYY-MM-DDTHH:MM:SS(.f{1,9})?(Z|[+-]HH:MM), as the schema's pattern."""
    if e - s < 20:
        return False
    if not (_digits(buf, s, 4) and buf[s + 4] == _MINUS and _digits(buf, s + 5, 2)
            and buf[s + 7] == _MINUS and _digits(buf, s + 8, 2) and buf[s + 10] == 84
            and _digits(buf, s + 11, 2) and buf[s + 13] == _COLON and _digits(buf, s + 14, 2)
            and buf[s + 16] == _COLON and _digits(buf, s + 17, 2)):  # fmt: skip
        return False
    j = s + 19
    if j < e and buf[j] == _DOT:
        k = j + 1
        while k < e and _digit(buf[k]):
            k += 1
        if k - (j + 1) < 1 or k - (j + 1) > 9:
            return False
        j = k
    if j < e and buf[j] == 90:  # Z
        return j + 1 == e
    return (j + 6 == e and (buf[j] == _PLUS or buf[j] == _MINUS) and _digits(buf, j + 1, 2)
            and buf[j + 3] == _COLON and _digits(buf, j + 4, 2))  # fmt: skip


@njit(cache=True, nogil=True)
def _enum_index(buf, s, e, enum_bytes, enum_offsets):  # pragma: no cover - compiled
    return _field(buf, s, e, enum_bytes, enum_offsets)


@njit(cache=True, nogil=True)
def _line(buf, begin, end, kinds, required, nullable, min_len, max_len, name_bytes,
          name_offsets, enum_bytes, enum_offsets, conditional, starts, ends, ints, i, seen,
          stack, true_, false_, null_):  # fmt: skip  # pragma: no cover - compiled
    """Line i; True if it is accepted (starts/ends/ints [:, i] filled)."""
    fields = len(kinds)
    seen[:] = False
    enum_choice = -1
    j = _skip(buf, begin, end)
    if j >= end or buf[j] != _LBRACE:
        return False
    j = _skip(buf, j + 1, end)
    if j < end and buf[j] == _RBRACE:
        j += 1
    else:
        while True:
            if j >= end or buf[j] != _QUOTE:
                return False
            close = _plain_string(buf, j, end)
            if close < 0:
                return False
            f = _field(buf, j + 1, close, name_bytes, name_offsets)
            if f < 0 or seen[f]:
                return False  # unknown or repeated key: the full check decides
            seen[f] = True
            j = _skip(buf, close + 1, end)
            if j >= end or buf[j] != _COLON:
                return False
            j = _skip(buf, j + 1, end)
            if j >= end:
                return False
            kind = kinds[f]
            if buf[j] == 110:  # null
                if not nullable[f] or j + 4 > end or not (buf[j + 1] == 117 and
                        buf[j + 2] == 108 and buf[j + 3] == 108):  # fmt: skip
                    return False
                j += 4
            elif kind == INTEGER:
                k = j
                value = 0
                while k < end and _digit(buf[k]) and k - j < 11:
                    value = value * 10 + (buf[k] - 48)
                    k += 1
                if k == j or (buf[j] == 48 and k - j > 1) or k - j > 10:
                    return False
                if k < end and (buf[k] == _DOT or buf[k] == 101 or buf[k] == 69):
                    return False  # 1.0 or 1e3 may be valid integers: the full check's call
                if value < min_len[f] or value > max_len[f]:
                    return False
                ints[f, i] = value
                starts[f, i] = 0
                j = k
            elif kind == OBJECT:
                if buf[j] != _LBRACE:
                    return False
                k = _json_value(buf, j, end, stack, true_, false_, null_)
                if k < 0:
                    return False
                starts[f, i] = j
                ends[f, i] = k
                j = k
            else:
                if buf[j] != _QUOTE:
                    return False
                close = _plain_string(buf, j, end)
                if close < 0:
                    return False
                s, e = j + 1, close
                if kind == UUID:
                    if not _uuid_ok(buf, s, e):
                        return False
                elif kind == OPERATION:
                    if not _operation_ok(buf, s, e):
                        return False
                elif kind == DATETIME:
                    if not _datetime_ok(buf, s, e):
                        return False
                elif kind == ENUM:
                    enum_choice = _enum_index(buf, s, e, enum_bytes, enum_offsets)
                    if enum_choice < 0:
                        return False
                else:
                    n = _code_points(buf, s, e)
                    if n < min_len[f] or n > max_len[f]:
                        return False
                starts[f, i] = s
                ends[f, i] = e
                j = close + 1
            j = _skip(buf, j, end)
            if j >= end:
                return False
            if buf[j] == _COMMA:
                j = _skip(buf, j + 1, end)
                continue
            if buf[j] == _RBRACE:
                j += 1
                break
            return False
    if _skip(buf, j, end) != end:
        return False
    for f in range(fields):
        if required[f] and not seen[f]:
            return False
        if kinds[f] == INTEGER and not seen[f]:
            return False
    when, choice, then = conditional[0], conditional[1], conditional[2]
    # e.g. no error_code on a success
    return not (when >= 0 and enum_choice == choice and starts[then, i] >= 0)


@njit(cache=True, nogil=True)
def _scan(buf, offsets, valid, kinds, required, nullable, min_len, max_len, name_bytes,
          name_offsets, enum_bytes, enum_offsets, conditional, ok, starts, ends, ints):  # fmt: skip  # pragma: no cover - compiled
    seen = np.zeros(len(kinds), np.bool_)
    stack = np.zeros(64, np.uint8)  # MAX_DEPTH
    true_ = np.array([116, 114, 117, 101], np.uint8)
    false_ = np.array([102, 97, 108, 115, 101], np.uint8)
    null_ = np.array([110, 117, 108, 108], np.uint8)
    for i in range(len(offsets) - 1):
        if valid[i]:
            ok[i] = _line(buf, offsets[i], offsets[i + 1], kinds, required, nullable, min_len,
                          max_len, name_bytes, name_offsets, enum_bytes, enum_offsets,
                          conditional, starts, ends, ints, i, seen, stack, true_, false_, null_)  # fmt: skip
            if not ok[i]:
                starts[:, i] = -1
                ends[:, i] = -1
