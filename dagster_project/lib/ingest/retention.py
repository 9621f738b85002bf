"""Enforce the retention configs/data-classification.yml declares for the ingestion bookkeeping.

    report = prune(conn)                  # delete what is past retention, in small transactions
    report = prune(conn, dry_run=True)    # only count it

One rule per table of the `ingest` schema: the row's age column, and for batches the rows that
may go at all. A table's retention is the one its columns declare (they must agree), so the
policy lives in one place and `platformctl docs validate` already checks it is complete.

    ingest.quarantine           quarantined_at   (90d: triage and replay a fixed file)
    ingest.touched_event_hours  last_touched_at  (30d: a work queue the rollups drain)
    ingest.event_keys           occurred_at      (400d: as long as the events they guard)
    ingest.ingestion_batches    received_at      loaded or dead-lettered, and no quarantined
                                                 line of it left (its foreign key)

Quarantine goes first, so batches whose lines expired can follow in the same run. Deleting
a key reopens its (organization, event_id) to ingestion; the events it guarded are past the
partitions' retention by then, and an event that old is refused as older_than_retention.

Runs on the maintenance connection (DATABASE_URL, as `platformctl partitions prune` does):
platform_ingest may not delete bookkeeping. Each batch of `batch_rows` is its own transaction,
so locks and WAL bursts stay small and ingestion runs alongside.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from dagster_project.lib.db import postgres
from dagster_project.lib.docs.classification import Classification, load_classification
from dagster_project.lib.errors import PlatformError

# Rows per DELETE transaction. 10k rows of event_keys is ~1 MB of WAL and a few ms of locks:
# ingestion never waits long behind it, and the per-statement overhead is still noise.
BATCH_ROWS = 10_000
_RETENTION = re.compile(r"^([1-9][0-9]*)(d|w|mo|y)$")
_UNITS = {"d": "days", "w": "weeks", "mo": "months", "y": "years"}


class RetentionError(PlatformError, ValueError):
    """The classification does not give a table one usable retention."""


@dataclass(frozen=True)
class Rule:
    table: str  # schema.table
    age_column: str
    # Only rows for which this also holds may go (SQL over the table aliased `t`).
    condition: str = "true"


RULES = (
    Rule("ingest.quarantine", "quarantined_at"),
    Rule("ingest.touched_event_hours", "last_touched_at"),
    Rule("ingest.event_keys", "occurred_at"),
    Rule(
        "ingest.ingestion_batches",
        "received_at",
        "t.state IN ('loaded', 'dead_lettered') "
        "AND NOT EXISTS (SELECT 1 FROM ingest.quarantine AS q WHERE q.batch_id = t.id)",
    ),
)


@dataclass
class TablePrune:
    table: str
    retention: str
    cutoff: datetime
    rows: int = 0  # deleted, or that would be (dry run)


@dataclass
class PruneReport:
    dry_run: bool
    tables: list[TablePrune] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "tables": [{**asdict(t), "cutoff": t.cutoff.isoformat()} for t in self.tables],
        }


def connect(url: str) -> psycopg.Connection:
    """The maintenance connection prune needs, autocommit, at `url` (the caller resolves it)."""
    return postgres.connect(url, autocommit=True, application_name="platform-ingest-prune")


def table_retention(classification: Classification, table: str) -> str:
    """The retention every column of `table` declares, e.g. '90d'."""
    columns = classification.tables.get(table)
    if not columns:
        raise RetentionError(f"{classification.source}: {table} is not classified")
    values = {c.retention for c in columns.values()}
    if len(values) != 1:
        raise RetentionError(
            f"{classification.source}: the columns of {table} declare different retentions "
            f"({', '.join(sorted(values))}); rows are deleted whole, so they must agree"
        )
    (value,) = values
    if not _RETENTION.match(value):
        raise RetentionError(
            f"{classification.source}: {table}: retention {value!r} cannot be enforced by age "
            "(expected e.g. 30d, 12w, 13mo, 1y)"
        )
    return value


def prune(
    conn: psycopg.Connection,
    classification: Classification | None = None,
    *,
    dry_run: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> PruneReport:
    """Delete (or count, with dry_run) the bookkeeping rows past retention. `conn` must be in
    autocommit mode: every batch commits on its own."""
    if not conn.autocommit:
        raise ValueError("prune needs an autocommit connection (each batch is a transaction)")
    if batch_rows < 1:
        raise ValueError("batch_rows must be >= 1")
    classification = classification or load_classification()
    report = PruneReport(dry_run=dry_run)
    for rule in RULES:
        retention = table_retention(classification, rule.table)
        cutoff = _cutoff(conn, retention)
        done = TablePrune(rule.table, retention, cutoff)
        report.tables.append(done)
        if dry_run:
            done.rows = _count(conn, rule, cutoff)
            continue
        while deleted := _delete_batch(conn, rule, cutoff, batch_rows):
            done.rows += deleted
    return report


def _cutoff(conn: psycopg.Connection, retention: str) -> datetime:
    """now() minus the retention, computed by PostgreSQL (calendar months and years)."""
    count, unit = _RETENTION.match(retention).groups()
    (cutoff,) = conn.execute(
        sql.SQL("SELECT now() - make_interval({} => %s)").format(sql.SQL(_UNITS[unit])),
        (int(count),),
    ).fetchone()
    return cutoff


def _where(rule: Rule) -> sql.Composed:
    return sql.SQL("t.{} < %(cutoff)s AND ({})").format(
        sql.Identifier(rule.age_column), sql.SQL(rule.condition)
    )


def _table(rule: Rule) -> sql.Identifier:
    return sql.Identifier(*rule.table.split("."))


def _count(conn: psycopg.Connection, rule: Rule, cutoff: datetime) -> int:
    query = sql.SQL("SELECT count(*) FROM {} AS t WHERE {}").format(_table(rule), _where(rule))
    return conn.execute(query, {"cutoff": cutoff}).fetchone()[0]


def _delete_batch(conn: psycopg.Connection, rule: Rule, cutoff: datetime, limit: int) -> int:
    # ctid = ANY(ARRAY(...)): a TID scan of exactly the rows the LIMITed subquery found (an
    # IN (subquery) would be planned as a join over the whole table).
    query = sql.SQL(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        "SELECT t.ctid FROM {table} AS t WHERE {where} LIMIT %(limit)s))"
    ).format(table=_table(rule), where=_where(rule))
    return conn.execute(query, {"cutoff": cutoff, "limit": limit}).rowcount
