"""The readers (lib/ingest/readers.py) without a database: every line comes out once, in order,
as a row or a rejection; too-long lines are rejected without being held in memory; chunks stay
within their byte budget; a byte-order mark and CRLF change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project.lib.ingest import readers
from dagster_project.lib.ingest.readers import read_chunks


def _lines(path: Path, fmt: str = "ndjson", **kwargs) -> tuple[dict[int, str], dict[int, tuple]]:
    rows, rejected = {}, {}
    for chunk in read_chunks(path, fmt, kwargs.pop("batch_size", 1000), **kwargs):
        for line_no, raw in zip(chunk.rows["line_no"].to_pylist(), chunk.rows["raw"].to_pylist(),
                                strict=True):  # fmt: skip
            assert line_no not in rows
            rows[line_no] = raw
        for r in chunk.rejected:
            assert r.line_no not in rejected and r.line_no not in rows
            rejected[r.line_no] = (r.reason, r.detail, r.payload, r.encoding)
    return rows, rejected


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lengths=st.lists(st.integers(0, 120), min_size=1, max_size=30),
    crlf=st.booleans(),
    bom=st.booleans(),
    block=st.sampled_from([7, 64, 1 << 20]),
)
def test_every_line_comes_out_once_whole_or_rejected_as_too_large(
    tmp_path, monkeypatch, lengths, crlf, bom, block
):
    """With a limit of 50 bytes and blocks as small as 7 bytes (a long line then spans many
    blocks, and is skipped rather than kept), whatever the lengths."""
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    end = "\r\n" if crlf else "\n"
    texts = [f'"{"é" * (n // 2)}{"x" * (n % 2)}"' if n else "" for n in lengths]
    path = tmp_path / "lines.ndjson"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "".join(t + end for t in texts).encode())
    rows, rejected = _lines(path, max_line_bytes=50)
    for line_no, text in enumerate(texts, 1):
        size = len(text.encode())
        if size == 0:
            assert line_no not in rows and line_no not in rejected  # blank: no line
        elif size > 50:
            reason, detail, payload, encoding = rejected[line_no]
            assert (reason, encoding) == ("too_large", "utf8")
            assert f"a line of {size} bytes" in detail or f"a line of {size + 1} bytes" in detail
            assert text.startswith(payload)
        else:
            assert rows[line_no].rstrip("\r\n") == text
    assert set(rows) | set(rejected) == {n for n, t in enumerate(texts, 1) if t}


def test_a_too_long_line_keeps_its_first_bytes_cut_at_a_character(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "PAYLOAD_PREFIX", 10)
    path = tmp_path / "x.ndjson"
    path.write_text('{"a": 1}\n' + "aaaaaaaaaé" * 20 + "\n" + '{"b": 2}\n')
    rows, rejected = _lines(path, max_line_bytes=50)
    assert sorted(rows) == [1, 3]
    reason, detail, payload, _ = rejected[2]
    assert payload == "aaaaaaaaa"  # the é was cut in two by the prefix: left out
    assert (
        detail
        == "a line of 220 bytes, over the limit of 50 (x-maxLineBytes); its first 9 bytes are kept"
    )


def test_chunks_stay_within_the_byte_budget_and_keep_the_file_order(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_BYTES", 1000)
    lines = [json.dumps({"n": n, "pad": "p" * (n * 7 % 300)}) for n in range(200)]
    lines[50] = "x" * 400  # rejected (limit 300): counts with its payload
    path = tmp_path / "x.ndjson"
    path.write_text("\n".join(lines) + "\n")
    seen = []
    for chunk in read_chunks(path, "ndjson", 40, max_line_bytes=300):
        assert chunk.submitted <= 40
        assert chunk.nbytes <= 1000 or chunk.submitted == 1
        seen += sorted(chunk.rows["line_no"].to_pylist() + [r.line_no for r in chunk.rejected])
    assert seen == list(range(1, 201))


def test_a_bom_before_the_csv_header_and_crlf(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b'\xef\xbb\xbfevent_id,input_tokens,note\r\n001,12,"a\r\nb"\r\n002,,\r\n')
    rows, rejected = _lines(path, "csv", max_line_bytes=1000)
    assert rejected == {}
    assert json.loads(rows[2]) == {"event_id": "001", "input_tokens": 12, "note": "a\r\nb"}
    assert json.loads(rows[3]) == {"event_id": "002"}


@pytest.mark.parametrize("name", ["line_no", "c0", "block", 'we"ird'])
def test_a_csv_column_is_read_by_position_whatever_its_name(tmp_path, name):
    path = tmp_path / "x.csv"
    quoted = '"' + name.replace('"', '""') + '"'
    path.write_text(f"event_id,{quoted}\nabc,7\nabd,\n")
    rows, _ = _lines(path, "csv", max_line_bytes=1000)
    assert json.loads(rows[2]) == {"event_id": "abc", name: "7"}
    assert json.loads(rows[3]) == {"event_id": "abd"}


# -- CSV: the slow reader (records longer than pyarrow's block) reads as pyarrow does -----------

cells = st.one_of(
    st.none(),
    st.just(""),
    st.text(st.sampled_from(list('ab,"\n\r é{}:1')), min_size=1, max_size=8),
)


def _csv_file(path: Path, header: list[str], rows: list[list], end: str, bom: bool) -> Path:
    def cell(value) -> str:
        if value is None:
            return ""
        if value == "" or any(c in value for c in ',"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    text = "".join(",".join(map(cell, r)) + end for r in [header, *rows])
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def _read(blocks) -> tuple[dict, dict]:
    rows, rejected = {}, {}
    for chunk in blocks:
        rows.update(zip(chunk.rows["line_no"].to_pylist(), chunk.rows["raw"].to_pylist(),
                        strict=True))  # fmt: skip
        rejected.update({r.line_no: (r.reason, r.payload) for r in chunk.rejected})
    return rows, rejected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(cells, min_size=3, max_size=3), max_size=12),
    end=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
)
def test_the_slow_csv_reader_reads_what_pyarrow_reads(tmp_path, rows, end, bom):
    path = _csv_file(tmp_path / "x.csv", ["event_id", "metadata", "input_tokens"], rows, end, bom)
    fast = _read(readers._csv_blocks_fast(path, None, 1000, [2]))
    slow = _read(readers._csv_blocks_slowly(path, 1000, first=2))
    assert slow == fast


def test_a_csv_record_longer_than_pyarrows_block_is_too_large_and_the_rest_read(
    tmp_path, monkeypatch
):
    """pyarrow cannot read a record longer than its block: from there on the slow reader
    reads, records before it are not read twice, and the long record costs no memory."""
    monkeypatch.setattr(readers, "BLOCK_BYTES", 256)
    rows = [[f"e{n}", '{"a": 1}', str(n)] for n in range(40)]
    rows[25][1] = json.dumps({"blob": "x" * 5000, "quoted": 'a "b", c\nd'})
    path = _csv_file(tmp_path / "x.csv", ["event_id", "metadata", "input_tokens"], rows, "\r\n",
                     True)  # fmt: skip
    got, rejected = _lines(path, "csv", max_line_bytes=1000)
    assert sorted(got) == [n + 2 for n in range(40) if n != 25]
    assert json.loads(got[41]) == {"event_id": "e39", "metadata": {"a": 1}, "input_tokens": 39}
    reason, detail, payload, _ = rejected[27]
    assert reason == "too_large" and payload.startswith('e25,"{""blob""')
    assert "a line of 50" in detail  # its length in the file, quotes doubled
