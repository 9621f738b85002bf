"""Ingest files (or an iterable of dicts) into app.usage_events: batches, retries, shards.

    results = ingest_paths([Path("usage.ndjson")], database_url=url)     # platformctl ingest
    result = ingest_events([{"event_id": ...}, ...], database_url=url)   # the Python API

A batch is one file, identified by the sha256 of its bytes and its format: ingesting the same
content again is a replay that changes nothing and reports the recorded counts. Two ingesters given the same
file serialise on the batch's advisory lock; the second sees it loaded. A batch is read in
chunks; the main thread parses and validates chunk n+1 (DuckDB) while one loader thread per
shard writes its share of chunk n (PostgreSQL; a shard owns a fixed set of key buckets), each
share in one transaction together with the shard's resume point. A crash loses at most the
uncommitted shares; the rerun resumes after each shard's last committed line and ends with
exactly the rows and counts of an uninterrupted run.

Failures: only what can succeed later is retried (connection loss, serialization failure,
deadlock, lock timeout: `is_transient`), with exponential backoff, and after `max_attempts`
the batch is dead-lettered. Anything else dead-letters it at once: a file that cannot be read
as its format (`FileUnreadable`: empty, not Parquet, a required column missing) or a database
error no retry can change. Either way the result says so (`BatchResult.problem`, one line
naming the file and the cause); an unexpected exception (a bug) is recorded, then re-raised.
"""

from __future__ import annotations

import csv
import json
import queue
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dagster_project.lib.ingest.config import IngestConfig, IngestError, load_config
from dagster_project.lib.ingest.loader import (
    BATCH_LOCK,
    BUCKETS,
    ShardLoader,
    Work,
    open_connection,
    quarantine_rows,
)
from dagster_project.lib.ingest.readers import (
    Chunk,
    Progress,
    detect_format,
    read_chunks,
    sha256_of,
)
from dagster_project.lib.ingest.reference import Reference
from dagster_project.lib.ingest.schema import Envelope, load_envelope
from dagster_project.lib.ingest.validate import Validator
from dagster_project.lib.sqlfiles import read_sql

BATCH_COLUMNS = ("id", "state", "attempts", "shards", "shard_lines_done", "reference_time",
                 "received_at", "submitted", "accepted", "duplicates", "quarantined", "late",
                 "last_error")  # fmt: skip


# SQLSTATEs worth another attempt: the same statements can succeed once the other session is
# gone or the server is back. Class 08 (connection exceptions) too, a psycopg OperationalError
# without SQLSTATE (the connection broke before the server answered), and a unique violation of
# pk_event_keys (an ingester that raced ours: on the retry its keys are duplicates).
TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57P01", "57P02", "57P03",  # admin_shutdown, crash_shutdown, cannot_connect_now
    "53300",  # too_many_connections
})  # fmt: skip


class FileUnreadable(IngestError):
    """The file as a whole cannot be read as its format: no retry can change that."""


def is_transient(exc: BaseException) -> bool:
    """Could the failed attempt succeed if run again unchanged?"""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    if state == "23505":  # unique_violation: only the key race (insert_keys.sql) resolves itself
        return exc.diag.constraint_name == "pk_event_keys"
    return state.startswith("08") or state in TRANSIENT_SQLSTATES


# Failures that are about the data or the database, not the code: dead-lettered with one line,
# no traceback. Any other exception is a bug: recorded, then re-raised.
EXPECTED_FAILURES = (IngestError, psycopg.Error, duckdb.Error, pa.ArrowException)


# Seconds per loader step of the last attempt in this process (the benchmark reports them).
STEP_SECONDS: dict[str, float] = {}


@dataclass
class BatchResult:
    batch_id: int
    source: str
    format: str
    state: str
    replayed: bool  # loaded (or dead-lettered) before this call: nothing was done
    attempts: int
    submitted: int
    accepted: int
    duplicates: int
    quarantined: int
    late: int
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "loaded"

    @property
    def wholly_quarantined(self) -> bool:
        """Lines were submitted and every one was quarantined: nothing of the file is stored."""
        return self.submitted > 0 and self.quarantined == self.submitted

    @property
    def problem(self) -> str | None:
        """Why this file needs a person, in one line naming it; None when it was loaded (or
        replayed) with something stored or recognised as already stored."""
        name = Path(self.source).name
        if not self.ok and self.replayed:
            return f"{name}: {self.error}"
        if not self.ok:
            attempts = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
            return f"{name}: {self.state} after {attempts}: {self.error}"
        if self.wholly_quarantined:
            return (f"{name}: all {self.submitted:,} lines quarantined (nothing stored): "
                    f"SELECT reason, count(*) FROM ingest.quarantine WHERE batch_id = "
                    f"{self.batch_id} GROUP BY 1")  # fmt: skip
        return None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problem": self.problem}


def ingest_paths(
    paths: Iterable[Path],
    *,
    database_url: str,
    config: IngestConfig | None = None,
    progress: Callable[[Path], Progress | None] | None = None,
    retry_dead_lettered: bool = False,
) -> list[BatchResult]:
    """Ingest files one after another (each is its own batch)."""
    config = config or load_config()
    url = database_url
    return [
        ingest_file(
            Path(p),
            database_url=url,
            config=config,
            progress=progress(Path(p)) if progress else None,
            retry_dead_lettered=retry_dead_lettered,
        )  # fmt: skip
        for p in paths
    ]


def ingest_events(
    events: Iterable[Mapping[str, Any]],
    *,
    database_url: str,
    config: IngestConfig | None = None,
    source: str = "api",
) -> BatchResult:
    """Ingest an iterable of envelope dicts as one batch. They are spooled to a temporary
    NDJSON file (memory stays flat), whose content hash is the batch identity: the same
    events in the same order are the same batch. Line numbers are positions (1-based)."""
    config = config or load_config()
    with tempfile.TemporaryDirectory(prefix="ingest-") as tmp:
        path = Path(tmp) / "events.ndjson"
        with open(path, "w", encoding="utf-8") as out:
            for event in events:
                out.write(json.dumps(event, default=_json_default, separators=(",", ":")))
                out.write("\n")
        return ingest_file(path, database_url=database_url,
                           config=config, source=source)  # fmt: skip


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID | date | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def ingest_file(
    path: Path,
    *,
    database_url: str,
    config: IngestConfig | None = None,
    progress: Progress | None = None,
    source: str | None = None,
    retry_dead_lettered: bool = False,
) -> BatchResult:
    config = config or load_config()
    url = database_url
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    fmt = detect_format(path)
    source = source or str(path.resolve())
    started = time.monotonic()
    digest = sha256_of(path)
    control = open_connection(url, config.role, application="ingest-control")
    try:
        batch = _claim(control, digest, source, fmt, config.shards)
        if batch["state"] == "loaded":
            return _result(batch, source, fmt, started, replayed=True)
        if batch["state"] == "dead_lettered" and not retry_dead_lettered:
            return _result(batch, source, fmt, started, replayed=True, error=(
                f"dead-lettered earlier ({batch['last_error']}); fix the cause, then retry it "
                "with `platformctl ingest --retry-dead-lettered`"))  # fmt: skip
        for attempt in range(1, config.max_attempts + 1):
            batch = _start_attempt(control, batch)
            try:
                _run_attempt(url, config, batch, path, fmt, source, progress)
            except Exception as exc:
                if not _still_connected(control):  # the server went away: so did our batch lock
                    control.close()
                    control = open_connection(url, config.role, application="ingest-control")
                    batch = _claim(control, digest, source, fmt, config.shards)
                    if batch["state"] in ("loaded", "dead_lettered"):  # another ingester's end
                        return _result(batch, source, fmt, started, replayed=True,
                                       error=batch["last_error"] if batch["state"] != "loaded"
                                       else None)  # fmt: skip
                    if batch["state"] == "validating":
                        batch = _transition(control, batch["id"], "failed",
                                            last_error=_describe(exc))  # fmt: skip
                error = _describe(exc)
                if batch["state"] != "failed":
                    batch = _transition(control, batch["id"], "failed", last_error=error)
                transient = is_transient(exc)
                if not transient or attempt == config.max_attempts:
                    batch = _transition(control, batch["id"], "dead_lettered")
                    if not isinstance(exc, EXPECTED_FAILURES):
                        raise  # a bug: its traceback, after the batch records it
                    return _result(batch, source, fmt, started, error=error)
                delay = config.backoff_seconds(attempt) * random.uniform(0.8, 1.2)
                batch = _transition(control, batch["id"], "retrying", next_attempt_in=delay)
                time.sleep(delay)
                continue
            batch = _transition(control, batch["id"], "loaded", finished=True)
            return _result(batch, source, fmt, started)
        raise AssertionError("unreachable")
    finally:
        control.close()  # also releases the batch's session advisory lock


def _still_connected(conn: psycopg.Connection) -> bool:
    """Roll back whatever the failed attempt left open; False if the connection is gone."""
    if conn.broken or conn.closed:
        return False
    try:
        conn.rollback()
        conn.execute("SELECT 1").fetchone()
        conn.commit()
    except psycopg.OperationalError:
        return False
    return True


def _describe(exc: BaseException) -> str:
    """The failure in one line (stored as the batch's last_error)."""
    if isinstance(exc, IngestError):
        text = str(exc)
    elif isinstance(exc, psycopg.Error):
        message = exc.diag.message_primary or str(exc) or "the connection was lost"
        text = f"{type(exc).__name__} ({exc.sqlstate or 'no SQLSTATE'}): {message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:4000]


# -- the batch row --------------------------------------------------------------------------------


def _claim(conn: psycopg.Connection, digest: bytes, source: str, fmt: str, shards: int) -> dict:
    """The batch for this content and format (created if new), locked for this session: a
    second ingester of the same file waits here, then finds it loaded."""
    conn.execute(_sql("claim_batch.sql"), {"digest": digest, "source": source[:4096],
                                           "format": fmt, "shards": shards})  # fmt: skip
    conn.commit()
    (batch_id,) = conn.execute(
        "SELECT id FROM ingest.ingestion_batches WHERE content_sha256 = %s AND format = %s",
        (digest, fmt),
    ).fetchone()
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (BATCH_LOCK, batch_id))
    conn.commit()
    return _read(conn, batch_id)


def _read(conn: psycopg.Connection, batch_id: int) -> dict:
    row = conn.execute(
        f"SELECT {', '.join(BATCH_COLUMNS)} FROM ingest.ingestion_batches WHERE id = %s",
        (batch_id,),
    ).fetchone()
    conn.commit()
    return dict(zip(BATCH_COLUMNS, row, strict=True))


def _transition(
    conn: psycopg.Connection,
    batch_id: int,
    state: str,
    *,
    last_error: str | None = None,
    finished: bool = False,
    next_attempt_in: float | None = None,
    attempt: bool = False,
) -> dict:
    """Move the batch along its state machine (the table's trigger refuses illegal moves)."""
    conn.execute(
        _sql("transition_batch.sql"),
        {
            "state": state,
            "error": last_error,
            "attempt": attempt,
            "finished": finished,
            "delay": next_attempt_in,
            "id": batch_id,
        },  # fmt: skip
    )
    conn.commit()
    return _read(conn, batch_id)


def _start_attempt(conn: psycopg.Connection, batch: dict) -> dict:
    """Whatever state the batch is in (we hold its lock), bring it to `validating`."""
    state, batch_id = batch["state"], batch["id"]
    if state == "validating":  # we hold the lock, so whoever set this is gone: it crashed
        batch = _transition(conn, batch_id, "failed",
                            last_error="the previous attempt stopped before finishing")  # fmt: skip
        state = "failed"
    if state in ("failed", "dead_lettered"):
        batch = _transition(conn, batch_id, "retrying")
    return _transition(conn, batch_id, "validating", attempt=True)


def _result(batch: dict, source: str, fmt: str, started: float, *, replayed: bool = False,
            error: str | None = None) -> BatchResult:  # fmt: skip
    return BatchResult(
        batch_id=batch["id"], source=source, format=fmt, state=batch["state"], replayed=replayed,
        attempts=batch["attempts"], submitted=batch["submitted"], accepted=batch["accepted"],
        duplicates=batch["duplicates"], quarantined=batch["quarantined"], late=batch["late"],
        seconds=round(time.monotonic() - started, 3), error=error,
    )  # fmt: skip


# -- one attempt ----------------------------------------------------------------------------------


class _Shard(threading.Thread):
    """Loads one shard's share of each chunk, in order, on its own connection."""

    def __init__(self, loader: ShardLoader) -> None:
        super().__init__(name=f"ingest-shard-{loader.shard}", daemon=True)
        self.loader = loader
        self.queue: queue.Queue[Work | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (work := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.loader.load(work)
                except BaseException as exc:  # reported by the main thread
                    self.error = exc


def _run_attempt(
    url: str,
    config: IngestConfig,
    batch: dict,
    path: Path,
    fmt: str,
    source: str,
    progress: Progress | None,
) -> None:
    envelope = load_envelope()
    check_readable(path, fmt, envelope)
    done = list(batch["shard_lines_done"])
    reference_time: datetime = batch["reference_time"].astimezone(UTC)
    connections = []
    try:
        lookup = open_connection(url, config.role, application="ingest-reference")
        connections.append(lookup)
        validator = Validator(
            envelope, Reference(lookup), reference_time,
            clock_skew_seconds=config.clock_skew_seconds, retention_days=config.max_event_age_days,
        )  # fmt: skip
        shards = []
        for shard in range(batch["shards"]):
            conn = open_connection(url, config.role, application=f"ingest-shard-{shard}")
            connections.append(conn)
            shards.append(_Shard(ShardLoader(
                conn, batch_id=batch["id"], shard=shard, source_file=source,
                received_at=batch["received_at"],
                reference_hour=reference_time.replace(minute=0, second=0, microsecond=0),
            )))  # fmt: skip
        for worker in shards:
            worker.start()
        try:
            for chunk_no, chunk in enumerate(
                _read_chunks(path, fmt, config.batch_size, progress), 1
            ):
                if chunk.last_line <= min(done):
                    continue  # every shard committed this chunk in an earlier attempt
                for shard, work in enumerate(_split(chunk, chunk_no, validator, done)):
                    if work is not None:
                        _put(shards, shards[shard], work)
        finally:
            for worker in shards:
                _put(shards, worker, None, force=True)
            for worker in shards:
                worker.join()
        for worker in shards:
            for step, seconds in worker.loader.seconds.items():
                STEP_SECONDS[f"shard{worker.loader.shard}.{step}"] = seconds
        errors = [w.error for w in shards if w.error is not None]
        if errors:
            raise errors[0]
    finally:
        for conn in connections:
            conn.close()


def check_readable(path: Path, fmt: str, envelope: Envelope) -> None:
    """Raise FileUnreadable if the file as a whole cannot be read as `fmt`: empty (CSV, Parquet),
    not Parquet, without a CSV header, or without a column a required property needs (CSV, Parquet). A
    problem of single lines is not this: those lines are quarantined."""
    if path.stat().st_size == 0 and fmt != "ndjson":  # NDJSON of no events is valid: 0 lines
        raise FileUnreadable("the file is empty")
    if fmt == "csv":
        try:
            with open(path, "rb") as f:
                columns = next(csv.reader(_decoded_lines(f)), None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise FileUnreadable(f"the CSV header cannot be read: {exc}") from None
        if not columns or not any(c.strip() for c in columns):
            raise FileUnreadable("the CSV file has no header line")
        if any("\x00" in c for c in columns):  # text has no NUL: binary data (Parquet, gzip...)
            raise FileUnreadable("not a CSV file: its first line holds NUL bytes")
    elif fmt == "parquet":
        try:
            columns = pq.read_schema(path).names
        except (pa.ArrowException, OSError) as exc:
            raise FileUnreadable(f"not a Parquet file ({_one_line(exc)})") from None
    else:
        return
    present = set(columns)  # as the reader names them: no stripping
    missing = [p.name for p in envelope.properties if p.required and p.name not in present]
    if missing:
        raise FileUnreadable(
            f"missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the {fmt.upper()} columns are {', '.join(columns)})"
        )


def _decoded_lines(binary: Iterable[bytes]) -> Iterator[str]:
    """The file's lines as text, decoded one at a time (a BOM dropped from the first): reading
    the header must not decode the rows after it, whose bad bytes are theirs to quarantine."""
    first = True
    for line in binary:
        yield line.decode("utf-8-sig" if first else "utf-8")
        first = False


def _read_chunks(
    path: Path, fmt: str, batch_size: int, progress: Progress | None
) -> Iterable[Chunk]:
    """read_chunks, with a failure of the reader itself (the file is not what its name says,
    or is cut short) as FileUnreadable."""
    try:
        yield from read_chunks(path, fmt, batch_size, progress)
    except (pa.ArrowException, duckdb.Error, UnicodeDecodeError, csv.Error) as exc:
        raise FileUnreadable(f"cannot be read as {fmt}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]


def _sql(name: str) -> str:
    return read_sql("dagster_project.lib.ingest", name)


def _put(shards: list[_Shard], worker: _Shard, item: Work | None, *, force: bool = False) -> None:
    while True:
        if not force:
            failed = next((w.error for w in shards if w.error is not None), None)
            if failed is not None:
                raise failed
        try:
            worker.queue.put(item, timeout=0.5)
            return
        except queue.Full:
            if not worker.is_alive():
                return


def _split(chunk: Chunk, chunk_no: int, validator: Validator, done: list[int]) -> list[Work | None]:
    """Validate a chunk and cut it into one Work per shard (None: nothing for that shard),
    leaving out each shard's lines that an earlier attempt committed. A shard takes the keys
    whose bucket is its number modulo the shard count (every copy of a key: one shard, in file
    order), and shard 0 also the quarantined lines. Both depend only on the file's content,
    so a resumed batch splits exactly as the first attempt did."""
    shards = len(done)
    validated = validator.validate(chunk.rows)
    quarantined = validated.quarantined
    rows = chunk.rows.filter(pc.is_in(chunk.rows["line_no"], quarantined["line_no"]))
    raw = dict(zip(rows["line_no"].to_pylist(), rows["raw"].to_pylist(), strict=True))
    rejected = quarantine_rows(quarantined, raw, chunk.rejected)
    accepted = validated.accepted
    works: list[Work | None] = []
    for shard, committed in enumerate(done):
        buckets = pa.array([b for b in range(BUCKETS) if b % shards == shard], pa.int32())
        mine = pc.is_in(accepted["bucket"], buckets)
        share = accepted.filter(pc.and_(mine, pc.greater(accepted["line_no"], committed)))
        duplicate = pc.equal(share["duplicate"], 1)
        intra = pc.sum(duplicate.cast(pa.int64())).as_py() or 0
        share = share.filter(pc.invert(duplicate)).drop_columns(["duplicate"])
        bad = [r for r in rejected if r[0] > committed] if shard == 0 else []
        has_work = share.num_rows or intra or bad
        works.append(Work(chunk_no, chunk.last_line, share, intra, bad) if has_work else None)
    return works
