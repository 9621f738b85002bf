"""The fast path: one transaction per chunk and shard, set-based, no row-by-row round trips.

    BEGIN
      advisory xact locks on the share's key buckets (sorted: no deadlocks)
      COPY (binary) the events into ingest_stage, in primary-key order (organization, time)
      COPY (binary) their keys into ingest_stage_keys, in key order
      DELETE the staged keys stored already (one index probe each, in key order) -> duplicates
      INSERT the remaining keys into ingest.event_keys (plain insert, in key order)
      per organization: set app.current_org_id, INSERT its events (minus duplicates)
      COPY the quarantined rows into ingest.quarantine
      upsert the touched (organization, hour) pairs; add the counts and the resume point
    COMMIT

Keys and events commit together, so a key is stored exactly when its event is. Inserts into
app.usage_events run as the ingestion role under row-level security, one statement per
organization with that tenant set: the policy's WITH CHECK holds every row to its tenant.
Why two staging tables: the events load fastest in their primary key's order, the keys in
theirs (a uuid hash, i.e. random with respect to time); sorting each on the client costs
less than either index insert done in the wrong order (docs/performance.md).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import pgpq
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from pgpq.encoders import StringEncoderBuilder
from pgpq.schema import Jsonb
from psycopg import sql

from dagster_project.lib.db.postgres import connect
from dagster_project.lib.ingest.readers import Rejected
from dagster_project.lib.pricing.categories import CATEGORIES, NEW_COUNTS
from dagster_project.lib.sqlfiles import read_sql

# Advisory lock classes (first key of the two-int form): key buckets, batches.
KEY_LOCK, BATCH_LOCK = 0x1D6E57, 0x1D6E58
BUCKETS = 16  # key buckets: the first byte of key_id mod 16 (lib/ingest/validate.py)
TENANT_SETTING = "app.current_org_id"
EVENT_COLUMNS = (
    "occurred_at", "organization_id", "user_id", "api_key_id", "model_id", "input_tokens",
    "output_tokens", "latency_ms", "event_id", "operation", "status", "error_code", "cost_usd",
    "metadata", "price_id", "input_cost_usd", "output_cost_usd", *NEW_COUNTS, "service_tier",
    "cost_source", *(c.cost for c in CATEGORIES if c.count not in ("input_tokens", "output_tokens")),
    "metadata_line",  # the raw line, when metadata holds a non-integer number (validate.py)
)  # fmt: skip
KEY_COLUMNS = ("key_id", "organization_id", "occurred_at")
QUARANTINE_COLUMNS = ("batch_id", "line_no", "reason", "detail", "source_file",
                      "organization_id", "event_id", "raw_payload", "payload_encoding")  # fmt: skip


@dataclass
class Work:
    """One shard's share of one chunk."""

    chunk_no: int
    last_line: int  # the chunk's last line: this shard's resume point once committed
    accepted: (
        pa.Table
    )  # KEY_COLUMNS + EVENT_COLUMNS + bucket, sorted by (organization_id, occurred_at)
    intra_duplicates: int  # later copies of a key within the chunk, already dropped
    quarantined: list[
        tuple
    ]  # (line_no, reason, detail, organization_id, event_id, payload, encoding)

    @property
    def submitted(self) -> int:
        return self.accepted.num_rows + self.intra_duplicates + len(self.quarantined)


@dataclass
class Counts:
    submitted: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    late: int = 0


def open_connection(url: str, role: str, *, application: str = "ingest") -> psycopg.Connection:
    """A connection acting as the ingestion role, in UTC, with its staging tables."""
    conn = connect(url, application_name=application)
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    conn.execute("SET TIME ZONE 'UTC'")
    # A chunk's staging rows (~300 bytes each) stay in this session's memory: the default
    # 8 MB of temp_buffers would write them out and read them back.
    conn.execute("SET temp_buffers = '256MB'")
    conn.execute("SET work_mem = '64MB'")
    conn.execute(_sql("create_stage.sql"))
    conn.commit()
    return conn


class ShardLoader:
    def __init__(
        self,
        conn: psycopg.Connection,
        *,
        batch_id: int,
        shard: int,
        source_file: str,
        received_at: datetime,
        reference_hour: datetime,
    ) -> None:
        self.conn = conn
        self.batch_id, self.shard, self.source_file = batch_id, shard, source_file
        self.received_at, self.reference_hour = received_at, reference_hour
        self._encoders: dict[pa.Schema, dict] = {}
        self.seconds: dict[str, float] = {}  # per step, for the benchmark's breakdown

    def load(self, work: Work) -> Counts:
        conn = self.conn
        counts = Counts(submitted=work.submitted, duplicates=work.intra_duplicates,
                        quarantined=len(work.quarantined))  # fmt: skip
        t = time.perf_counter()
        with conn.transaction():
            if work.accepted.num_rows:
                t = self._load_events(work, counts, t)
            if work.quarantined:
                self._copy_quarantine(work.quarantined)
            conn.execute(_sql("add_counts.sql"), {
                "submitted": counts.submitted, "accepted": counts.accepted,
                "duplicates": counts.duplicates, "quarantined": counts.quarantined,
                "late": counts.late, "shard": self.shard, "last_line": work.last_line,
                "batch_id": self.batch_id,
            })  # fmt: skip
            t = self._timed("quarantine_and_counts", t)
        self._timed("commit", t)
        return counts

    def _load_events(self, work: Work, counts: Counts, t: float) -> float:
        conn, accepted = self.conn, work.accepted
        slices = _organization_slices(accepted)
        conn.execute(
            _sql("lock_buckets.sql"), (KEY_LOCK, pc.unique(accepted["bucket"]).to_pylist())
        )
        t = self._timed("lock", t)
        seq = pa.array(range(accepted.num_rows), pa.int32())
        events = _plain(accepted.select(EVENT_COLUMNS)).add_column(0, "seq", seq)
        keys = _plain(accepted.select(KEY_COLUMNS)).add_column(0, "seq", seq)
        keys = keys.take(pc.sort_indices(keys["key_id"]))
        t = self._timed("prepare", t)
        self._copy("ingest_stage", events)
        t = self._timed("copy_events", t)
        self._copy("ingest_stage_keys", keys)
        t = self._timed("copy_keys", t)
        # One index probe per key (the planner would otherwise hash the whole keys table).
        conn.execute("SET LOCAL enable_hashjoin = off")
        conn.execute("SET LOCAL enable_mergejoin = off")
        (stored,) = conn.execute(_sql("delete_stored_keys.sql")).fetchone()
        conn.execute("RESET enable_hashjoin")
        conn.execute("RESET enable_mergejoin")
        if stored:
            conn.execute("DELETE FROM ingest_stage WHERE seq = ANY(%s)", (stored,))
        counts.duplicates += len(stored)
        t = self._timed("dedup_keys", t)
        conn.execute(_sql("insert_keys.sql"), {"batch_id": self.batch_id})
        t = self._timed("insert_keys", t)
        with conn.pipeline():
            cursors = []
            for org, start, stop in slices:
                conn.execute("SELECT set_config(%s, %s, true)", (TENANT_SETTING, org))
                cursors.append(conn.execute(_sql("insert_events.sql"), {
                    "received_at": self.received_at, "start": start, "stop": stop, "org": org}))  # fmt: skip
        counts.accepted = sum(c.rowcount for c in cursors)
        conn.execute("SELECT set_config(%s, '', true)", (TENANT_SETTING,))
        t = self._timed("insert_events", t)
        params = {"batch_id": self.batch_id, "reference_hour": self.reference_hour}
        (late,) = conn.execute(_sql("touch_hours.sql"), params).fetchone()
        counts.late = int(late)
        return self._timed("touched_hours", t)

    def _timed(self, step: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - started
        return now

    def _copy(self, table: str, data: pa.Table) -> None:
        builders = self._encoders.get(data.schema)
        if builders is None:
            builders = {
                f.name: pgpq.ArrowToPostgresBinaryEncoder.infer_encoder(f) for f in data.schema
            }
            if "metadata" in builders:  # JSON text -> jsonb's binary format
                builders["metadata"] = StringEncoderBuilder.new_with_output(
                    data.schema.field("metadata"), Jsonb()
                )
            self._encoders[data.schema] = builders
        encoder = pgpq.ArrowToPostgresBinaryEncoder.new_with_encoders(data.schema, builders)
        columns = sql.SQL(", ").join(map(sql.Identifier, data.schema.names))
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            sql.Identifier(table), columns
        )
        with self.conn.cursor().copy(statement) as copy:
            copy.write(encoder.write_header())
            for batch in data.to_batches(max_chunksize=16_384):
                copy.write(encoder.write_batch(batch))
            copy.write(encoder.finish())

    def _copy_quarantine(self, rows: list[tuple]) -> None:
        statement = sql.SQL("COPY ingest.quarantine ({}) FROM STDIN").format(
            sql.SQL(", ").join(map(sql.Identifier, QUARANTINE_COLUMNS))
        )
        with self.conn.cursor().copy(statement) as copy:
            for line_no, reason, detail, org, event_id, payload, encoding in rows:
                copy.write_row((self.batch_id, line_no, reason, detail[:1000], self.source_file,
                                org, event_id, payload, encoding))  # fmt: skip


def quarantine_rows(
    validated: pa.Table, chunk_raw: dict[int, str], rejected: list[Rejected]
) -> list[tuple]:
    """Quarantine tuples for the loader: validator findings with their raw line, plus the
    reader's rejected lines (not text, wrong CSV field count). Text columns other than the
    payload never carry a NUL (PostgreSQL text cannot): it is shown as \\u0000."""
    rows = [
        (r["line_no"], r["reason"], _text(r["detail"]), r["organization_id"], _text(r["event_id"]),
         chunk_raw[r["line_no"]].rstrip("\r\n"), "utf8")
        for r in validated.to_pylist()
    ]  # fmt: skip
    rows += [(r.line_no, r.reason, r.detail, None, None, r.payload, r.encoding) for r in rejected]
    return sorted(rows)


def _text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\\u0000")


def _organization_slices(table: pa.Table) -> list[tuple[str, int, int]]:
    """(organization_id, start, stop) of each organization's contiguous rows (sorted input)."""
    orgs = _storage(table["organization_id"]).combine_chunks()
    changes = pc.not_equal(orgs.slice(1), orgs.slice(0, len(orgs) - 1))
    starts = [0] + [i + 1 for i in pc.indices_nonzero(changes).to_pylist()]
    stops = starts[1:] + [len(orgs)]
    return [
        (str(uuid.UUID(bytes=orgs[s].as_py())), s, e) for s, e in zip(starts, stops, strict=True)
    ]


def _storage(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if isinstance(column.type, pa.BaseExtensionType):
        return pa.chunked_array([c.storage for c in column.chunks], type=column.type.storage_type)
    return column


def _plain(table: pa.Table) -> pa.Table:
    """DuckDB's uuids (an Arrow extension type) as their 16 bytes, which uuid_recv reads."""
    return pa.Table.from_arrays([_storage(c) for c in table.columns], names=table.column_names)


def _sql(name: str) -> str:
    return read_sql("dagster_project.lib.ingest", name)
