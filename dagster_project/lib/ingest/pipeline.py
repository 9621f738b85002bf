"""Ingest files (or an iterable of dicts) into app.usage_events: batches, retries, shards.

    results = ingest_paths([Path("usage.ndjson")], database_url=url)     # platformctl ingest
    result = ingest_events([{"event_id": ...}, ...], database_url=url)   # the Python API

A batch is one file, identified by the sha256 of its bytes: ingesting the same content again
is a replay that changes nothing and reports the recorded counts. Two ingesters given the same
file serialise on the batch's advisory lock; the second sees it loaded. A batch is read in
chunks; the main thread parses and validates chunk n+1 (DuckDB) while one loader thread per
shard writes its share of chunk n (PostgreSQL; a shard owns a fixed set of key buckets), each
share in one transaction together with the shard's resume point. A crash loses at most the
uncommitted shares; the rerun resumes after each shard's last committed line and ends with
exactly the rows and counts of an uninterrupted run. A failed attempt is retried with exponential backoff, and
after `max_attempts` the batch is dead-lettered.
"""

from __future__ import annotations

import json
import queue
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

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
from dagster_project.lib.ingest.schema import load_envelope
from dagster_project.lib.ingest.validate import Validator

BATCH_COLUMNS = ("id", "state", "attempts", "shards", "shard_lines_done", "reference_time",
                 "received_at", "submitted", "accepted", "duplicates", "quarantined", "late",
                 "last_error")  # fmt: skip


# Seconds per loader step of the last attempt in this process (the benchmark reports them).
STEP_SECONDS: dict[str, float] = {}


@dataclass
class BatchResult:
    batch_id: int
    source: str
    format: str
    state: str
    replayed: bool  # already loaded before this call: nothing was written
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
            raise IngestError(
                f"{path}: batch {batch['id']} is dead-lettered ({batch['last_error']}); fix the "
                "cause, then retry it with `platformctl ingest --retry-dead-lettered`"
            )
        for attempt in range(1, config.max_attempts + 1):
            batch = _start_attempt(control, batch)
            try:
                _run_attempt(url, config, batch, path, fmt, source, progress)
            except Exception as exc:  # every failure is recorded and retried, then dead-lettered
                control.rollback()
                error = f"{type(exc).__name__}: {exc}"[:4000]
                batch = _transition(control, batch["id"], "failed", last_error=error)
                if attempt == config.max_attempts:
                    batch = _transition(control, batch["id"], "dead_lettered")
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


# -- the batch row --------------------------------------------------------------------------------


def _claim(conn: psycopg.Connection, digest: bytes, source: str, fmt: str, shards: int) -> dict:
    """The batch for this content (created if new), locked for this session: a second
    ingester of the same content waits here, then finds it loaded."""
    conn.execute(
        "INSERT INTO ingest.ingestion_batches (content_sha256, source, format, reference_time, "
        "shards, shard_lines_done) VALUES (%s, %s, %s, now(), %s, array_fill(0::bigint, ARRAY[%s])) "
        "ON CONFLICT (content_sha256) DO NOTHING",
        (digest, source[:4096], fmt, shards, shards),
    )
    conn.commit()
    (batch_id,) = conn.execute(
        "SELECT id FROM ingest.ingestion_batches WHERE content_sha256 = %s", (digest,)
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
        "UPDATE ingest.ingestion_batches SET state = %(state)s, "
        "last_error = coalesce(%(error)s, last_error), "
        "attempts = attempts + %(attempt)s::int, "
        "started_at = CASE WHEN %(attempt)s THEN coalesce(started_at, now()) ELSE started_at END, "
        "finished_at = CASE WHEN %(finished)s THEN clock_timestamp() ELSE finished_at END, "
        "next_attempt_at = clock_timestamp() + make_interval(secs => %(delay)s) "
        "WHERE id = %(id)s",
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
    done = list(batch["shard_lines_done"])
    reference_time: datetime = batch["reference_time"].astimezone(UTC)
    connections = []
    try:
        lookup = open_connection(url, config.role, application="ingest-reference")
        connections.append(lookup)
        validator = Validator(
            load_envelope(), Reference(lookup), reference_time,
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
                read_chunks(path, fmt, config.batch_size, progress), 1
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
