"""Stream NDJSON, CSV and Parquet files as chunks of raw events, memory flat in file size.

Every format becomes the same thing: Arrow tables of (line_no int64, raw string), one JSON
object per row, `batch_size` rows at a time. NDJSON lines are passed through untouched (the
validator parses them); CSV and Parquet rows are rendered as JSON objects of their raw values
(vectorised, in DuckDB), so one validator serves all formats and a quarantined row keeps a
faithful payload. Lines that cannot be text (not UTF-8, a NUL byte) or CSV rows with the wrong
number of fields never reach the validator: they come out as `Rejected` rows.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
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

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".csv": "csv",
           ".parquet": "parquet"}  # fmt: skip
BLOCK_BYTES = 16 << 20  # read size: large enough for fast splitting, small enough to stay flat
CHUNK = pa.schema([("line_no", pa.int64()), ("raw", pa.string())])
INT_FIELDS = ("input_tokens", "output_tokens", "latency_ms")  # CSV: digits become numbers
JSON_FIELDS = ("metadata",)  # CSV and Parquet carry the object as JSON text

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
    path: Path, fmt: str, batch_size: int, progress: Progress | None = None
) -> Iterator[Chunk]:
    """The file as chunks of at most `batch_size` rows, in file order."""
    blocks = {"ndjson": _ndjson_blocks, "csv": _csv_blocks, "parquet": _parquet_blocks}[fmt]
    pending: list[Chunk] = []
    size = 0
    for block in blocks(path, progress):
        pending.append(block)
        size += block.submitted
        while size >= batch_size:
            chunk, pending = _take(pending, batch_size)
            size -= chunk.submitted
            yield chunk
    if size:
        yield _take(pending, size)[0]


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


def _ndjson_blocks(path: Path, progress: Progress | None) -> Iterator[Chunk]:
    next_line, rest, done = 1, b"", 0
    total = path.stat().st_size
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK_BYTES)
            done += len(block)
            data = rest + block
            if block:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            elif not data:
                return
            chunk, next_line = _ndjson_lines(data, next_line)
            if progress:
                progress(done, total)
            yield chunk
            if not block:
                return


def _ndjson_lines(data: bytes, first_line: int) -> tuple[Chunk, int]:
    """Complete lines (the last may lack its newline) -> rows, zero-copy: an Arrow string
    array over the block's bytes, cut at the newlines (each row keeps its trailing newline,
    which JSON ignores as whitespace). Blank lines are dropped but keep their numbers."""
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
        return _ndjson_lines_slowly(data[:-1], first_line)
    numbers = pa.array(np.arange(first_line, first_line + count, dtype=np.int64))
    rows = pa.table({"line_no": numbers, "raw": lines})
    lengths = np.diff(offsets)
    blank = (lengths == 1) | ((lengths == 2) & (buffer[ends - 2] == 13))
    if blank.any():
        rows = rows.filter(pa.array(~blank))
    return Chunk(rows), first_line + count


def _ndjson_lines_slowly(data: bytes, first_line: int) -> tuple[Chunk, int]:
    """A block holding a line that cannot be text: line by line (rare)."""
    numbers, raws, rejected = [], [], []
    lines = data.split(b"\n")
    for offset, line in enumerate(lines):
        line_no = first_line + offset
        if line in (b"", b"\r"):
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
    """One JSON object per row: null (CSV: empty) values are left out, so a required property
    with no value is missing; JSON_FIELDS holding valid JSON are embedded, any other value is
    a JSON value of its own type (CSV, which has no types: INT_FIELDS digits become numbers)."""
    pieces = []
    for name in schema.names:
        if name == "line_no":
            continue
        col = '"' + name.replace('"', '""') + '"'
        kind = schema.field(name).type
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
        pieces.append(f"CASE WHEN {col} IS NOT NULL THEN {key} || ({value}) END")
    return f"SELECT line_no, '{{' || concat_ws(',', {', '.join(pieces)}) || '}}' AS raw FROM block"


def _rendered(con: duckdb.DuckDBPyConnection, sql: str, block: pa.Table) -> pa.Table:
    con.register("block", block)
    rows = con.execute(sql).fetch_arrow_table().cast(CHUNK)
    con.unregister("block")
    return rows


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


def _csv_blocks(path: Path, progress: Progress | None) -> Iterator[Chunk]:
    skipped: list[tuple[int, str]] = []

    def invalid_row(row: pa_csv.InvalidRow) -> str:
        skipped.append((row.number, row.text))
        return "skip"

    def rejected(number: int, text: str) -> Rejected:
        return Rejected(
            number, "malformed_record", "a CSV row with the wrong number of fields", text, "utf8"
        )

    with open(path, newline="", encoding="utf-8") as f:
        names = next(csv.reader(f), [])  # the header: every column is read as text
    source = _CountingFile(path, progress)
    reader = pa_csv.open_csv(
        source,
        read_options=pa_csv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid_row),
        convert_options=pa_csv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,  # an empty field is no value; a quoted "" is ""
            quoted_strings_can_be_null=False,
        ),
    )
    con = duckdb.connect()
    sql = _render_sql(reader.schema, typed=False)
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
            block = pa.Table.from_batches([batch]).append_column(
                "line_no", pa.array(numbers, pa.int64())
            )
            yield Chunk(_rendered(con, sql, block), bad)
        if skipped:
            yield Chunk(CHUNK.empty_table(), [rejected(n, t) for n, t in skipped])
    finally:
        source.close()


def _parquet_blocks(path: Path, progress: Progress | None) -> Iterator[Chunk]:
    parquet = pq.ParquetFile(path)
    total = parquet.metadata.num_rows
    con = duckdb.connect()
    sql = _render_sql(parquet.schema_arrow, typed=True)
    next_no = 1
    for batch in parquet.iter_batches(batch_size=65_536):
        numbers = pa.array(range(next_no, next_no + batch.num_rows), pa.int64())
        next_no += batch.num_rows
        block = pa.Table.from_batches([batch]).append_column("line_no", numbers)
        if progress:
            progress(next_no - 1, total)
        yield Chunk(_rendered(con, sql, block))
