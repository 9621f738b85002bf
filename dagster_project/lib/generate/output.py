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

from dagster_project.lib.generate.traffic import (
    ENVELOPE_1_0,
    ENVELOPES,
    INT_FIELDS,
    LATE,
    NEW_COUNTS,
    NULLABLE,
)

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet"}
EXTENSIONS = {"ndjson": ".ndjson", "csv": ".csv", "parquet": ".parquet"}
DAY_PLACEHOLDER = "YYYYMMDD"  # in a file name: one file per UTC day of arrival
# Rows buffered before a write: Parquet row groups of 64k+ rows read efficiently, and a
# buffer this size is a few tens of MB at most.
FLUSH_ROWS = 65_536
NDJSON_SLICE_ROWS = 16_384
COUNTS = ("input_tokens", "output_tokens", *NEW_COUNTS)


def envelope_schema(envelope: str) -> pa.Schema:
    """The columns a CSV or Parquet file of this envelope has, in order."""
    return pa.schema(
        [pa.field(f, pa.int64() if f in INT_FIELDS else pa.string()) for f in ENVELOPES[envelope]]
    )


@dataclass
class FileStats:
    path: Path
    day: date | None
    rows: int = 0
    classes: Counter[int] = field(default_factory=Counter)
    # Over the valid rows (on time and late): what ingestion must store.
    counts: Counter[str] = field(default_factory=Counter)  # per count field (lib/pricing)
    tiers: Counter[str] = field(default_factory=Counter)  # rows per service tier
    error_events: int = 0
    provider_cost_events: int = 0  # rows with provider_cost_usd: cost_source 'provider'
    provider_discrepancies: int = 0  # of those, where it differs from what the price gives
    computed_cost: int = 0  # sum of what the prices give, in 1e-10 USD
    cost: int = 0  # sum of cost_usd as stored: the provider's where sent, in 1e-10 USD
    bytes: int = 0
    sha256: str = ""

    @property
    def input_tokens(self) -> int:
        return self.counts["input_tokens"]

    @property
    def output_tokens(self) -> int:
        return self.counts["output_tokens"]

    def add(self, table: pa.Table) -> None:
        classes = table["_class"].to_numpy()
        self.rows += len(classes)
        codes, counts = np.unique(classes, return_counts=True)
        self.classes.update(dict(zip(codes.tolist(), counts.tolist(), strict=True)))
        valid = pa.array(classes <= LATE)
        # Not the text columns (no copy of them); a 1.0 block has no 1.1 columns.
        needed = [*COUNTS, "service_tier", "status", "_provider_cost", "_cost"]
        rows = table.select([n for n in needed if n in table.column_names]).filter(valid)
        for name in COUNTS:
            if name in rows.column_names:
                self.counts[name] += pc.sum(rows[name]).as_py() or 0
        self.error_events += pc.sum(pc.equal(rows["status"], "error").cast(pa.int64())).as_py() or 0
        computed = rows["_cost"]
        self.computed_cost += pc.sum(computed).as_py() or 0
        if "_provider_cost" not in rows.column_names:  # 1.0: standard tier, no provider cost
            self.tiers["standard"] += rows.num_rows
            self.cost += pc.sum(computed).as_py() or 0
            return
        tiers = pc.value_counts(pc.fill_null(rows["service_tier"], "standard").combine_chunks())
        for item in tiers.to_pylist():
            self.tiers[item["values"]] += item["counts"]
        provider = rows["_provider_cost"]
        self.provider_cost_events += len(provider) - provider.null_count
        self.provider_discrepancies += (
            pc.sum(pc.not_equal(provider, computed).cast(pa.int64())).as_py() or 0
        )
        self.cost += pc.sum(pc.coalesce(provider, computed)).as_py() or 0

    def merge(self, other: FileStats) -> None:
        self.rows += other.rows
        self.classes.update(other.classes)
        self.counts.update(other.counts)
        self.tiers.update(other.tiers)
        for name in ("error_events", "provider_cost_events", "provider_discrepancies",
                     "computed_cost", "cost"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


def ndjson_lines(table: pa.Table, envelope: str = "1.1") -> pa.Array:
    """One JSON object per row, built by one column-wise join: no per-row Python. A null
    user_id, api_key_id or error_code is written as null, a null metadata is left out; in 1.1 the
    new fields follow error_code, left out when 0 or null (absent = 0, standard, none), so a
    1.1 event with nothing new reads exactly like a 1.0 one. Where `_raw` is set, that text is
    the line: a malformed line, or an event without a required field (lib/generate/invalid.py
    renders both). Values need no escaping: uuids, fixed vocabularies, timestamps, numbers, and
    metadata that is JSON already."""
    pieces: list[str | pa.Array] = []
    literal = "{"
    for name in ENVELOPE_1_0[:-1]:
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
    pieces.append(literal[:-1])  # the last value's closing quote, if any, without the comma
    if envelope != "1.0":
        pieces += _optional_pieces(table)
    metadata = pc.binary_join_element_wise(',"metadata":', table["metadata"].combine_chunks(), "")
    lines = pc.binary_join_element_wise(*pieces, pc.fill_null(metadata, ""), "}\n", "")
    raw = table["_raw"].combine_chunks()
    return pc.if_else(pc.is_valid(raw), pc.binary_join_element_wise(raw, "\n", ""), lines)


def _optional_pieces(table: pa.Table) -> list[pa.Array]:
    """`,"name":value` per row for envelope 1.1's optional fields, "" where 0 or null; a column
    that is all 0 or null in this slice adds nothing."""
    pieces = []
    for name in NEW_COUNTS:
        column = table[name].combine_chunks()
        if not pc.any(pc.greater(column, 0)).as_py():
            continue
        text = pc.binary_join_element_wise(f',"{name}":', pc.cast(column, pa.string()), "")
        pieces.append(pc.if_else(pc.greater(column, 0), text, ""))
    for name, quote in (("service_tier", '"'), ("provider_cost_usd", "")):
        column = table[name].combine_chunks()
        if column.null_count < len(column):
            text = pc.binary_join_element_wise(f',"{name}":{quote}', column, quote, "")
            pieces.append(pc.fill_null(text, ""))
    return pieces


class _Ndjson:
    def __init__(self, path: Path, envelope: str) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._envelope = envelope

    def write(self, table: pa.Table) -> None:
        # In slices: rendering makes a few copies of the text, keep them small.
        for start in range(0, table.num_rows, NDJSON_SLICE_ROWS):
            lines = ndjson_lines(table.slice(start, NDJSON_SLICE_ROWS), self._envelope)
            offsets = np.frombuffer(lines.buffers()[1], np.int32)
            begin, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
            self._file.write(memoryview(lines.buffers()[2])[begin:end])

    def close(self) -> None:
        self._file.close()


class _Csv:
    def __init__(self, path: Path, envelope: str) -> None:
        self._schema = envelope_schema(envelope)
        self._writer = pa_csv.CSVWriter(str(path), self._schema)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.select(self._schema.names))

    def close(self) -> None:
        self._writer.close()


class _Parquet:
    def __init__(self, path: Path, envelope: str) -> None:
        self._schema = envelope_schema(envelope)
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.select(self._schema.names), row_group_size=2 * FLUSH_ROWS)

    def close(self) -> None:
        self._writer.close()


WRITERS = {"ndjson": _Ndjson, "csv": _Csv, "parquet": _Parquet}


class Output:
    """Routes blocks to files: `target`, or one file per day when its name holds YYYYMMDD;
    with `rows_per_file`, numbered parts `<stem>-0001<ext>`, ... ."""

    def __init__(
        self, target: Path, fmt: str, rows_per_file: int | None = None, envelope: str = "1.1"
    ) -> None:
        self.target, self.fmt, self.rows_per_file = target, fmt, rows_per_file
        self.envelope = envelope
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
        self._writer = WRITERS[self.fmt](_temporary(path), self.envelope)

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
