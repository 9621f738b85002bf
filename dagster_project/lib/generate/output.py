"""Streaming writers for generated events: NDJSON, CSV or Parquet, one file or one per UTC day.

Rows arrive in blocks and are buffered up to FLUSH_ROWS, so memory stays flat whatever the
file size. A file is written under a hidden temporary name and renamed when complete, so a
landing-folder sensor never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from dagster_project.lib.generate.traffic import ENVELOPE, INT_FIELDS, LATE, NULLABLE, SCHEMA

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet"}
EXTENSIONS = {"ndjson": ".ndjson", "csv": ".csv", "parquet": ".parquet"}
DAY_PLACEHOLDER = "YYYYMMDD"  # in a file name: one file per UTC day of arrival
# Rows buffered before a write: Parquet row groups of 64k+ rows read efficiently, and a
# buffer this size is a few tens of MB at most.
FLUSH_ROWS = 65_536
NDJSON_SLICE_ROWS = 16_384
ENVELOPE_SCHEMA = pa.schema([SCHEMA.field(f) for f in ENVELOPE])


@dataclass
class FileStats:
    path: Path
    day: date | None
    rows: int = 0
    classes: Counter[int] = field(default_factory=Counter)
    # Over the valid rows (on time and late): what ingestion must store.
    input_tokens: int = 0
    output_tokens: int = 0
    error_events: int = 0
    bytes: int = 0
    sha256: str = ""

    def add(self, table: pa.Table) -> None:
        classes = table["_class"].to_numpy()
        self.rows += len(classes)
        codes, counts = np.unique(classes, return_counts=True)
        self.classes.update(dict(zip(codes.tolist(), counts.tolist(), strict=True)))
        valid = pa.array(classes <= LATE)
        for name in ("input_tokens", "output_tokens"):
            setattr(
                self,
                name,
                getattr(self, name) + (pc.sum(pc.filter(table[name], valid)).as_py() or 0),
            )
        failed = pc.and_(valid, pc.equal(table["status"], "error").combine_chunks())
        self.error_events += pc.sum(failed.cast(pa.int64())).as_py() or 0


def ndjson_lines(table: pa.Table) -> pa.Array:
    """One JSON object per row, built by one column-wise join: no per-row Python. A null
    user_id, api_key_id or error_code is written as null, a null metadata is left out. Where
    `_raw` is set, that text is the line: a malformed line, or an event without a required field
    (lib/generate/invalid.py renders both). Values need no escaping: uuids, fixed vocabularies,
    timestamps, and metadata that is JSON already."""
    pieces: list[str | pa.Array] = []
    literal = "{"
    for name in ENVELOPE[:-1]:
        column = table[name].combine_chunks()
        if name in INT_FIELDS:
            pieces += [f'{literal}"{name}":', pc.cast(column, pa.string())]
            literal = ","
        elif name in NULLABLE:
            quoted = pc.binary_join_element_wise('"', column, '"', "")
            pieces += [f'{literal}"{name}":', pc.fill_null(quoted, "null")]
            literal = ","
        else:
            pieces += [f'{literal}"{name}":"', column]
            literal = '",'
    metadata = pc.binary_join_element_wise(',"metadata":', table["metadata"].combine_chunks(), "")
    closing = literal[:-1]  # the last value's closing quote, if any, without the comma
    lines = pc.binary_join_element_wise(*pieces, closing, pc.fill_null(metadata, ""), "}\n", "")
    raw = table["_raw"].combine_chunks()
    return pc.if_else(pc.is_valid(raw), pc.binary_join_element_wise(raw, "\n", ""), lines)


class _Ndjson:
    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()

    def write(self, table: pa.Table) -> None:
        # In slices: rendering makes a few copies of the text, keep them small.
        for start in range(0, table.num_rows, NDJSON_SLICE_ROWS):
            lines = ndjson_lines(table.slice(start, NDJSON_SLICE_ROWS))
            offsets = np.frombuffer(lines.buffers()[1], np.int32)
            begin, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
            self._file.write(memoryview(lines.buffers()[2])[begin:end])

    def close(self) -> None:
        self._file.close()


class _Csv:
    def __init__(self, path: Path) -> None:
        self._writer = pa_csv.CSVWriter(str(path), ENVELOPE_SCHEMA)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.select(list(ENVELOPE)))

    def close(self) -> None:
        self._writer.close()


class _Parquet:
    def __init__(self, path: Path) -> None:
        self._writer = pq.ParquetWriter(str(path), ENVELOPE_SCHEMA, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.select(list(ENVELOPE)), row_group_size=2 * FLUSH_ROWS)

    def close(self) -> None:
        self._writer.close()


WRITERS = {"ndjson": _Ndjson, "csv": _Csv, "parquet": _Parquet}


class Output:
    """Routes blocks to files: `target`, or one file per day when its name holds YYYYMMDD;
    with `rows_per_file`, numbered parts `<stem>-0001<ext>`, ... ."""

    def __init__(self, target: Path, fmt: str, rows_per_file: int | None = None) -> None:
        self.target, self.fmt, self.rows_per_file = target, fmt, rows_per_file
        self.per_day = DAY_PLACEHOLDER in target.name
        self.files: list[FileStats] = []
        self._day: date | None = None
        self._part = 0
        self._writer: _Ndjson | _Csv | _Parquet | None = None
        self._stats: FileStats | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def write(self, day: date, table: pa.Table) -> None:
        if self.per_day and day != self._day:
            self._finish()
            self._part = 0
        self._day = day
        while table.num_rows:
            if self._writer is None:
                self._open()
            assert self._stats is not None
            room = self.rows_per_file - self._stats.rows if self.rows_per_file else table.num_rows
            head, table = table.slice(0, room), table.slice(room)
            self._stats.add(head)
            self._pending.append(head)
            self._pending_rows += head.num_rows
            if self._pending_rows >= FLUSH_ROWS:
                self._flush()
            if self.rows_per_file and self._stats.rows >= self.rows_per_file:
                self._finish()

    def close(self) -> list[FileStats]:
        if self._writer is None and not self.files and not self.per_day:
            self._open()  # no rows at all: still an (empty) file where one was asked for
        self._finish()
        return self.files

    def _path(self) -> Path:
        name = self.target.name
        if self.per_day:
            assert self._day is not None
            name = name.replace(DAY_PLACEHOLDER, f"{self._day:%Y%m%d}")
        if self.rows_per_file:
            stem, ext = os.path.splitext(name)
            name = f"{stem}-{self._part:04d}{ext}"
        return self.target.with_name(name)

    def _open(self) -> None:
        self._part += 1
        path = self._path()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._stats = FileStats(path, self._day if self.per_day else None)
        self._writer = WRITERS[self.fmt](_temporary(path))

    def _flush(self) -> None:
        if self._pending and self._writer is not None:
            self._writer.write(pa.concat_tables(self._pending))
        self._pending, self._pending_rows = [], 0

    def _finish(self) -> None:
        if self._writer is None or self._stats is None:
            return
        self._flush()
        self._writer.close()
        path = self._stats.path
        os.replace(_temporary(path), path)
        self._stats.bytes, self._stats.sha256 = path.stat().st_size, _sha256(path)
        self.files.append(self._stats)
        self._writer = self._stats = None


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
