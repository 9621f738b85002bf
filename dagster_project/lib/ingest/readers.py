"""Stream NDJSON, CSV and Parquet files as chunks of raw events, memory flat in file size.

Every format becomes the same thing: Arrow tables of (line_no int64, raw string), one JSON
object per row, `batch_size` rows at a time. NDJSON lines are passed through untouched (the
validator parses them); CSV and Parquet rows are rendered as JSON objects of their raw values
(vectorised, in DuckDB), so one validator serves all formats and a quarantined row keeps a
faithful payload. Lines that cannot be text (not UTF-8, a NUL byte), CSV rows with the wrong
number of fields and lines longer than the envelope's x-maxLineBytes never reach the validator:
they come out as `Rejected` rows (a too-long line keeps its first PAYLOAD_PREFIX bytes).

Files as other tools write them: a leading UTF-8 byte-order mark is skipped (NDJSON, CSV), lines
may end in CRLF, CSV fields may hold quoted newlines (a CSV "line" is a record: header = 1).
A CSV or Parquet column is addressed by its position, never by its name: a column named like
an internal one (`line_no`) is just an unknown property, and a name given twice is a key that
appears twice in every row (malformed_record), whatever the values.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from dagster_project.lib.ingest.config import IngestError
from dagster_project.lib.ingest.schema import load_envelope

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".csv": "csv",
           ".parquet": "parquet"}  # fmt: skip
BLOCK_BYTES = 16 << 20  # read size: large enough for fast splitting, small enough to stay flat
CHUNK = pa.schema([("line_no", pa.int64()), ("raw", pa.string())])
# CSV: digits become numbers in the envelope's integer properties (the token and call counts,
# latency_ms); every other CSV value is a string (provider_cost_usd then is a decimal string).
INT_FIELDS = tuple(p.name for p in load_envelope().properties if "integer" in p.types)
JSON_FIELDS = ("metadata",)  # CSV and Parquet carry the object as JSON text
BOM = b"\xef\xbb\xbf"
# What a too-long line keeps in the quarantine: enough to see whose event it was.
PAYLOAD_PREFIX = 64 << 10
# A chunk also ends at this many bytes of lines: the validator's DuckDB needs ~30x a chunk's
# bytes when its lines are large (measured: 8 x 1 MiB lines pass in 256 MB, 12 do not; 32 pass
# in 1 GB, 64 do not), against ~10x for ordinary events (50k lines of 370 bytes: 17 MiB).
# 16 MiB keeps a chunk of maximal lines at half of the validator's 1 GB limit
# (lib/ingest/validate.py) and cuts an ordinary chunk at ~37k-45k events (450-370 bytes each)
# instead of 50k, where batch size does not change throughput (docs/performance.md).
CHUNK_BYTES = 16 << 20

# (done, total): bytes for NDJSON and CSV, rows for Parquet.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Rejected:
    line_no: int
    reason: str
    detail: str
    payload: str
    encoding: str  # 'utf8' or 'base64'


@dataclass
class Chunk:
    rows: pa.Table  # CHUNK
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def last_line(self) -> int:
        lines = [r.line_no for r in self.rejected]
        if self.rows.num_rows:
            lines.append(pc.max(self.rows["line_no"]).as_py())
        return max(lines, default=0)

    @property
    def submitted(self) -> int:
        return self.rows.num_rows + len(self.rejected)

    @property
    def nbytes(self) -> int:
        raw = pc.sum(pc.binary_length(self.rows["raw"])).as_py() if self.rows.num_rows else 0
        return (raw or 0) + sum(len(r.payload) for r in self.rejected)


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(f"{path}: unknown format; use .ndjson/.jsonl, .csv or .parquet")
    return fmt


def sha256_of(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(BLOCK_BYTES):
            digest.update(block)
    return digest.digest()


def read_chunks(
    path: Path,
    fmt: str,
    batch_size: int,
    progress: Progress | None = None,
    *,
    max_line_bytes: int | None = None,
) -> Iterator[Chunk]:
    """The file as chunks of at most `batch_size` lines and CHUNK_BYTES bytes (or one line),
    in file order. Lines longer than `max_line_bytes` (default: the envelope's
    x-maxLineBytes) come out rejected as too_large."""
    limit = max_line_bytes or load_envelope().max_line_bytes or CHUNK_BYTES
    blocks = {"ndjson": _ndjson_blocks, "csv": _csv_blocks, "parquet": _parquet_blocks}[fmt]
    pending: list[Chunk] = []
    size = nbytes = 0
    for block in blocks(path, progress, limit):
        pending.append(block)
        size += block.submitted
        nbytes += block.nbytes
        while size >= batch_size or nbytes >= CHUNK_BYTES:
            chunk, pending = _take(pending, _within_budget(pending, batch_size))
            size -= chunk.submitted
            nbytes -= chunk.nbytes
            yield chunk
    while size:
        chunk, pending = _take(pending, _within_budget(pending, size))
        size -= chunk.submitted
        yield chunk


def _within_budget(blocks: list[Chunk], count: int) -> int:
    """How many of the first lines (by line) to take: at most `count`, at most CHUNK_BYTES
    bytes, at least one."""
    lines = [b.rows["line_no"].to_numpy() for b in blocks if b.rows.num_rows]
    sizes = [pc.binary_length(b.rows["raw"]).to_numpy() for b in blocks if b.rows.num_rows]
    rejected = [r for b in blocks for r in b.rejected]
    lines.append(np.array([r.line_no for r in rejected], np.int64))
    sizes.append(np.array([len(r.payload) for r in rejected], np.int64))
    line, size = np.concatenate(lines), np.concatenate(sizes).astype(np.int64)
    total = np.cumsum(size[np.argsort(line, kind="stable")])
    fits = int(np.searchsorted(total, CHUNK_BYTES, side="right"))
    return max(1, min(count, fits))


def _take(blocks: list[Chunk], count: int) -> tuple[Chunk, list[Chunk]]:
    """The first `count` rows (by line) of the pending blocks, and what is left."""
    rows = pa.concat_tables([b.rows for b in blocks]) if blocks else CHUNK.empty_table()
    rejected = sorted((r for b in blocks for r in b.rejected), key=lambda r: r.line_no)
    lines = (
        sorted(rows["line_no"].to_pylist() + [r.line_no for r in rejected]) if rejected else None
    )
    if lines is None:
        head, tail = rows.slice(0, count), rows.slice(count)
        return Chunk(head), ([Chunk(tail)] if tail.num_rows else [])
    cut = lines[count - 1] if count <= len(lines) else lines[-1]
    mask = pc.less_equal(rows["line_no"], cut)
    head = Chunk(rows.filter(mask), [r for r in rejected if r.line_no <= cut])
    tail = Chunk(rows.filter(pc.invert(mask)), [r for r in rejected if r.line_no > cut])
    return head, ([tail] if tail.submitted else [])


# -- NDJSON ---------------------------------------------------------------------------------------


def _ndjson_blocks(path: Path, progress: Progress | None, limit: int) -> Iterator[Chunk]:
    """Blocks of complete lines. A line growing past `limit` with no end in sight is not
    kept: its first PAYLOAD_PREFIX bytes are, while the rest is skipped up to its newline."""
    next_line, rest, done = 1, b"", 0
    total = path.stat().st_size
    skipping: tuple[bytes, int] | None = None  # a too-long line: (its prefix, bytes so far)
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK_BYTES)
            if done == 0 and block.startswith(BOM):
                block = block[len(BOM) :]
                done = len(BOM)
            done += len(block)
            if skipping is not None:
                end = block.find(b"\n")
                if end < 0 and block:
                    skipping = (skipping[0], skipping[1] + len(block))
                    continue
                end = len(block) if end < 0 else end
                yield Chunk(CHUNK.empty_table(),
                            [_too_large(next_line, skipping[0], skipping[1] + end, limit)])  # fmt: skip
                next_line, skipping = next_line + 1, None
                if not block:
                    return  # the file ended inside the line
                block = block[end + 1 :]
                if not block:
                    continue
            data = rest + block
            if block:
                cut = data.rfind(b"\n") + 1
                data, rest = data[:cut], data[cut:]
                if len(rest) > limit + 1:  # an unfinished line already too long (+1: a CR)
                    skipping, rest = (rest[:PAYLOAD_PREFIX], len(rest)), b""
                if not data:
                    continue
            elif not data:
                return
            chunk, next_line = _ndjson_lines(data, next_line, limit)
            if progress:
                progress(done, total)
            yield chunk
            if not block:
                return


def _ndjson_lines(data: bytes, first_line: int, limit: int) -> tuple[Chunk, int]:
    """Complete lines (the last may lack its newline) -> rows, zero-copy: an Arrow string
    array over the block's bytes, cut at the newlines (each row keeps its trailing newline,
    which JSON ignores as whitespace). Blank lines are dropped but keep their numbers; lines
    longer than `limit` bytes (without CR LF) come out rejected."""
    if not data.endswith(b"\n"):
        data += b"\n"
    buffer = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buffer == 10) + 1
    count = len(ends)
    offsets = np.empty(count + 1, np.int32)
    offsets[0], offsets[1:] = 0, ends
    lines = pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        if data.find(b"\x00") >= 0:
            raise UnicodeError("NUL byte")
        lines.validate(full=True)  # UTF-8
    except (pa.ArrowInvalid, UnicodeError):
        return _ndjson_lines_slowly(data[:-1], first_line, limit)
    numbers = pa.array(np.arange(first_line, first_line + count, dtype=np.int64))
    rows = pa.table({"line_no": numbers, "raw": lines})
    lengths = np.diff(offsets) - 1 - (buffer[ends - 2] == 13)  # without the CR LF
    blank = lengths <= 0
    too_long = lengths > limit
    rejected = [
        _too_large(first_line + i, data[offsets[i] : min(offsets[i + 1], offsets[i] + PAYLOAD_PREFIX)],
                   int(lengths[i]), limit)
        for i in np.flatnonzero(too_long)
    ]  # fmt: skip
    if blank.any() or rejected:
        rows = rows.filter(pa.array(~(blank | too_long)))
    return Chunk(rows, rejected), first_line + count


def _ndjson_lines_slowly(data: bytes, first_line: int, limit: int) -> tuple[Chunk, int]:
    """A block holding a line that cannot be text: line by line (rare)."""
    numbers, raws, rejected = [], [], []
    lines = data.split(b"\n")
    for offset, line in enumerate(lines):
        line_no = first_line + offset
        if line in (b"", b"\r"):
            continue
        if len(line.removesuffix(b"\r")) > limit:
            rejected.append(_too_large(line_no, line[:PAYLOAD_PREFIX], len(line), limit))
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejected.append(
                _rejected(
                    line_no,
                    "invalid_encoding",
                    f"not UTF-8: {exc.reason} at byte {exc.start}",
                    line,
                )
            )
            continue
        if "\x00" in text:
            rejected.append(_rejected(line_no, "malformed_record", "a NUL byte", line))
            continue
        numbers.append(line_no)
        raws.append(text)
    rows = pa.table({"line_no": pa.array(numbers, pa.int64()), "raw": pa.array(raws, pa.string())})
    return Chunk(rows, rejected), first_line + len(lines)


def _too_large(line_no: int, prefix: bytes, length: int, limit: int) -> Rejected:
    """A line over the limit, with its first PAYLOAD_PREFIX bytes (cut at a character)."""
    prefix = prefix[:PAYLOAD_PREFIX].removesuffix(b"\n").removesuffix(b"\r")
    try:
        prefix.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(prefix) - 3 and exc.reason == "unexpected end of data":
            prefix = prefix[: exc.start]  # a character cut in two by the prefix
    kept = "" if len(prefix) == length else f"; its first {len(prefix)} bytes are kept"
    detail = f"a line of {length} bytes, over the limit of {limit} (x-maxLineBytes){kept}"
    return _rejected(line_no, "too_large", detail, prefix)


def _rejected(line_no: int, reason: str, detail: str, payload: bytes) -> Rejected:
    try:
        text = payload.decode("utf-8")
        if "\x00" not in text:
            return Rejected(line_no, reason, detail, text, "utf8")
    except UnicodeDecodeError:
        pass
    return Rejected(line_no, reason, detail, base64.b64encode(payload).decode("ascii"), "base64")


# -- CSV and Parquet: rows rendered as JSON objects ----------------------------------------------


def _render_sql(schema: pa.Schema, typed: bool) -> str:
    """One JSON object per row of `block` (the file's columns as c0, c1, ... in file order, and
    line_no): null (CSV: empty) values are left out, so a required property with no value is
    missing; JSON_FIELDS holding valid JSON are embedded, any other value is a JSON value of
    its own type (CSV, which has no types: INT_FIELDS digits become numbers). A name given
    twice is written each time, null or not: the row has a key twice (malformed_record)."""
    pieces = []
    for i, (name, kind) in enumerate(zip(schema.names, schema.types, strict=True)):
        col = f"c{i}"
        if name in JSON_FIELDS and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            value = f"CASE WHEN json_valid({col}) THEN {col} ELSE to_json({col}) END"
        elif not typed and name in INT_FIELDS:
            value = (f"CASE WHEN regexp_full_match({col}, '-?(0|[1-9][0-9]*)') THEN {col} "
                     f"ELSE to_json({col}) END")  # fmt: skip
        elif pa.types.is_timestamp(kind):
            offset = "Z" if kind.tz else ""  # a timestamp without a zone has no offset: invalid
            value = f"to_json(strftime({col}, '%Y-%m-%dT%H:%M:%S.%f{offset}'))"
        else:
            value = f"to_json({col})"
        key = "'" + (json.dumps(name) + ":").replace("'", "''") + "'"
        if schema.names.count(name) > 1:
            pieces.append(f"{key} || coalesce(({value}), 'null')")
        else:
            pieces.append(f"CASE WHEN {col} IS NOT NULL THEN {key} || ({value}) END")
    return f"SELECT line_no, '{{' || concat_ws(',', {', '.join(pieces)}) || '}}' AS raw FROM block"


def _rendered(
    con: duckdb.DuckDBPyConnection, sql: str, batch: pa.RecordBatch | pa.Table,
    numbers: pa.Array, limit: int,
) -> Chunk:  # fmt: skip
    """The rows of `batch` (line numbers `numbers`) as JSON objects; those longer than
    `limit` bytes rejected as too_large."""
    columns = [f"c{i}" for i in range(batch.num_columns)]
    block = pa.Table.from_arrays([*batch.columns, numbers], names=[*columns, "line_no"])
    con.register("block", block)
    rows = con.execute(sql).fetch_arrow_table().cast(CHUNK)
    con.unregister("block")
    lengths = pc.binary_length(rows["raw"])
    too_long = pc.greater(lengths, limit)
    if not pc.any(too_long).as_py():
        return Chunk(rows)
    rejected = [
        _too_large(r["line_no"], r["raw"][:PAYLOAD_PREFIX].encode(), len(r["raw"].encode()),
                   limit)
        for r in rows.filter(too_long).to_pylist()
    ]  # fmt: skip
    return Chunk(rows.filter(pc.invert(too_long)), rejected)


class _CountingFile(io.RawIOBase):
    """A read-only file that reports how many bytes were read (for the progress bar)."""

    def __init__(self, path: Path, progress: Progress | None) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._total = os.fstat(self._file.fileno()).st_size
        self._done = 0
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._file.readinto(buffer)
        self._done += count
        if self._progress:
            self._progress(self._done, self._total)
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def _csv_blocks(path: Path, progress: Progress | None, limit: int) -> Iterator[Chunk]:
    """pyarrow's reader (fast), or, from the record where it finds one longer than its block
    (16 MiB; it cannot go on), the slow reader, which skips such a record as too_large."""
    done = [2]  # the next record number the fast reader would give (the header is 1)
    try:
        yield from _csv_blocks_fast(path, progress, limit, done)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):  # pyarrow: "straddling object straddles two blocks"
            raise
        yield from _csv_blocks_slowly(path, limit, first=done[0])


def _csv_blocks_fast(
    path: Path, progress: Progress | None, limit: int, done: list[int]
) -> Iterator[Chunk]:
    skipped: list[tuple[int, str]] = []

    def invalid_row(row: pa_csv.InvalidRow) -> str:
        skipped.append((row.number, row.text))
        return "skip"

    def rejected(number: int, text: str) -> Rejected:
        data = text.encode()
        if len(data) > limit:
            return _too_large(number, data[:PAYLOAD_PREFIX], len(data), limit)
        return Rejected(
            number, "malformed_record", "a CSV row with the wrong number of fields", text, "utf8"
        )

    # The header (pyarrow skips a byte-order mark too): every column is read as bytes, then
    # checked as UTF-8 row by row, so one row that is not text does not fail the file.
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        names = next(csv.reader(f), [])
    source = _CountingFile(path, progress)
    reader = pa_csv.open_csv(
        source,
        read_options=pa_csv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid_row),
        convert_options=pa_csv.ConvertOptions(
            column_types={n: pa.binary() for n in names},
            strings_can_be_null=True,  # an empty field is no value; a quoted "" is ""
            quoted_strings_can_be_null=False,
        ),
    )
    con = duckdb.connect()
    text_schema = pa.schema([(n, pa.string()) for n in reader.schema.names])
    sql = _render_sql(text_schema, typed=False)
    next_no = 2  # record 1 is the header
    try:
        for batch in reader:
            # The records the parser skipped keep their numbers; the batch's rows get the others.
            numbers, bad = [], []
            while len(numbers) < batch.num_rows:
                if skipped and skipped[0][0] == next_no:
                    bad.append(rejected(*skipped.pop(0)))
                else:
                    numbers.append(next_no)
                next_no += 1
            texts, numbers, not_text = _as_text(batch, numbers)
            chunk = _rendered(con, sql, texts, pa.array(numbers, pa.int64()), limit)
            chunk.rejected.extend(bad + not_text)
            yield chunk
            done[0] = next_no
        if skipped:
            yield Chunk(CHUNK.empty_table(), [rejected(n, t) for n, t in skipped])
    finally:
        source.close()


def _csv_blocks_slowly(path: Path, limit: int, first: int) -> Iterator[Chunk]:
    """The CSV file's records numbered `first` and after, parsed in Python (rare: a file with
    a record longer than pyarrow's block). The same rules as pyarrow's reader: RFC 4180
    quoting, CR, LF or CRLF, blank lines skipped, an empty field null, a quoted "" empty."""
    records = _csv_records(path, limit)
    header = next(records, None)
    if header is None or header[0] is None:
        raise ValueError(f"{path}: the CSV header is missing or longer than {limit} bytes")
    names = [(f or b"").decode("utf-8", "replace") for f in header[0]]
    con = duckdb.connect()
    sql = _render_sql(pa.schema([(n, pa.string()) for n in names]), typed=False)
    columns: list[list[str | None]] = [[] for _ in names]
    numbers: list[int] = []
    rejected: list[Rejected] = []
    pending = 0  # bytes
    for number, (fields, raw, length) in enumerate(records, 2):
        if number < first:
            continue
        if fields is None:
            rejected.append(_too_large(number, raw, length, limit))
        elif len(fields) != len(names):
            rejected.append(_rejected(number, "malformed_record",
                                      "a CSV row with the wrong number of fields", raw))  # fmt: skip
        elif not all(f is None or _is_utf8(f) for f in fields):
            rejected.append(_rejected(number, "invalid_encoding", "a CSV field is not UTF-8", raw))
        else:
            for column, f in zip(columns, fields, strict=True):
                column.append(None if f is None else f.decode("utf-8"))
            numbers.append(number)
        pending += min(length, PAYLOAD_PREFIX) if fields is None else length
        if len(numbers) + len(rejected) >= 8192 or pending >= CHUNK_BYTES:
            yield _slow_chunk(con, sql, names, columns, numbers, rejected, limit)
            columns, numbers, rejected, pending = [[] for _ in names], [], [], 0
    if numbers or rejected:
        yield _slow_chunk(con, sql, names, columns, numbers, rejected, limit)


def _slow_chunk(con, sql, names, columns, numbers, rejected, limit) -> Chunk:
    batch = pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in columns], names=names)
    chunk = _rendered(con, sql, batch, pa.array(numbers, pa.int64()), limit)
    chunk.rejected.extend(rejected)
    return chunk


def _csv_records(path: Path, limit: int) -> Iterator[tuple[list[bytes | None] | None, bytes, int]]:
    """(fields, raw bytes, length) per record: fields None when it is longer than `limit`,
    and then only its first PAYLOAD_PREFIX bytes are kept; memory stays flat whatever the
    record. A field is None when empty and unquoted."""
    special = re.compile(rb"[,\r\n]")
    fields: list[bytes | None] | None = []
    field, raw = bytearray(), bytearray()
    length, quoted, in_quotes, at_start = 0, False, False, True

    def add(data: bytes, content: bool = True) -> None:
        nonlocal length, fields
        length += len(data)
        if fields is not None and length > limit:
            fields, raw[PAYLOAD_PREFIX:] = None, b""
        if len(raw) < (limit if fields is not None else PAYLOAD_PREFIX):
            raw.extend(data[: PAYLOAD_PREFIX if fields is None else len(data)])
        if content and fields is not None:
            field.extend(data)

    def end_field() -> None:
        nonlocal quoted
        if fields is not None:
            fields.append(bytes(field) if field or quoted else None)
        field.clear()
        quoted = False

    with open(path, "rb") as f:
        buf, pos = f.read(BLOCK_BYTES), 0
        buf, pos = (buf, len(BOM)) if buf.startswith(BOM) else (buf, 0)
        while True:
            if pos >= len(buf):
                buf, pos = f.read(BLOCK_BYTES), 0
                if not buf:
                    if length or fields:  # the last record, without a line end
                        end_field()
                        yield fields, bytes(raw), length
                    return
            if in_quotes:
                i = buf.find(b'"', pos)
                if i < 0:
                    add(buf[pos:])
                    pos = len(buf)
                    continue
                add(buf[pos:i])
                add(b'"', content=False)
                pos = i + 1
                if pos >= len(buf):
                    buf, pos = f.read(BLOCK_BYTES), 0
                if pos < len(buf) and buf[pos] == 0x22:  # "" inside quotes: one quote
                    add(b'"')
                    pos += 1
                else:
                    in_quotes = False
                continue
            if at_start and buf[pos] == 0x22:
                add(b'"', content=False)
                in_quotes = quoted = True
                at_start = False
                pos += 1
                continue
            at_start = False
            m = special.search(buf, pos)
            if m is None:
                add(buf[pos:])
                pos = len(buf)
                continue
            add(buf[pos : m.start()])
            pos = m.end()
            end_field()
            at_start = True
            if buf[m.start()] == 0x2C:  # a comma
                add(b",", content=False)
                continue
            if length or (fields is not None and (len(fields) > 1 or fields[0] is not None)):
                yield fields, bytes(raw), length
            fields, length = [], 0
            raw.clear()


def _as_text(
    batch: pa.RecordBatch, numbers: list[int]
) -> tuple[pa.RecordBatch, list[int], list[Rejected]]:
    """The batch's byte columns as text, and its line numbers; rows holding bytes that are not
    UTF-8 are left out and rejected (rare: found column by column, in Python)."""
    try:
        return _cast_text(batch), numbers, []
    except pa.ArrowInvalid:
        pass
    bad: set[int] = set()
    for column in batch.columns:
        for i, value in enumerate(column.to_pylist()):
            if value is not None and not _is_utf8(value):
                bad.add(i)
    rejected = []
    for i in sorted(bad):
        fields = [c[i].as_py() or b"" for c in batch.columns]
        rejected.append(_rejected(numbers[i], "invalid_encoding", "a CSV field is not UTF-8",
                                  b",".join(fields)))  # fmt: skip
    keep = [i not in bad for i in range(batch.num_rows)]
    kept = [n for n, ok in zip(numbers, keep, strict=True) if ok]
    return _cast_text(batch.filter(pa.array(keep))), kept, rejected


def _cast_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [c.cast(pa.string()) for c in batch.columns], names=batch.schema.names
    )


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parquet_blocks(path: Path, progress: Progress | None, limit: int) -> Iterator[Chunk]:
    parquet = pq.ParquetFile(path)
    total = parquet.metadata.num_rows
    con = duckdb.connect()
    sql = _render_sql(parquet.schema_arrow, typed=True)
    next_no = 1
    for batch in parquet.iter_batches(batch_size=65_536):
        numbers = pa.array(range(next_no, next_no + batch.num_rows), pa.int64())
        next_no += batch.num_rows
        if progress:
            progress(next_no - 1, total)
        yield _rendered(con, sql, batch, numbers, limit)
