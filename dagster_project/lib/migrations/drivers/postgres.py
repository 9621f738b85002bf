"""PostgreSQL driver: session advisory lock, transactional DDL, history in platform_meta."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from dagster_project.lib.db.postgres import DatabaseUnavailable, connect, ensure_database, redact
from dagster_project.lib.migrations.config import Settings
from dagster_project.lib.migrations.drivers.base import (
    AppliedMigration,
    AuditRecord,
    Driver,
    HistoryWrite,
    RowCount,
    StatementFailed,
    line_of_offset,
)
from dagster_project.lib.migrations.errors import LockNotAcquired
from dagster_project.lib.migrations.sqlsplit import split_statements
from dagster_project.lib.sqlfiles import read_sql

# How often a waiting `up` retries pg_try_advisory_lock: fine enough to start promptly when the
# holder finishes, coarse enough not to hammer the server.
_LOCK_POLL_SECONDS = 0.2


def _sql_file(name: str) -> str:
    return read_sql("dagster_project.lib.migrations", name)


def advisory_lock_key(target: str) -> int:
    """A stable signed 64-bit key per target, so two targets in one database don't block."""
    digest = hashlib.sha256(f"platform-migrate:{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresDriver(Driver):
    kind = "postgres"

    def __init__(self, url: str, *, create_database: bool = True, settings: Settings | None = None):
        self.url = url
        settings = settings or Settings()
        if create_database:
            self._retry(lambda: ensure_database(url), settings)
        self.conn = self._retry(lambda: connect(url, autocommit=True), settings)

    @staticmethod
    def _retry(action, settings: Settings):
        """A server that is still starting refuses connections for a moment: back off and retry."""
        for attempt in range(1, max(settings.connect_attempts, 1) + 1):
            try:
                return action()
            except DatabaseUnavailable:
                if attempt >= settings.connect_attempts:
                    raise
                time.sleep(settings.backoff_seconds * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def lock(self, target: str, wait_seconds: float) -> Iterator[None]:
        key = advisory_lock_key(target)
        deadline = time.monotonic() + wait_seconds
        while not self.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                holder = self._lock_holder(key)
                raise LockNotAcquired(
                    f"locked: another migration run holds the lock for target {target!r} "
                    f"on {redact(self.url)}{holder}; waited {wait_seconds:g}s"
                )
            time.sleep(_LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            if not self.conn.closed:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def _lock_holder(self, key: int) -> str:
        row = self.conn.execute(
            """SELECT a.pid, a.usename, a.application_name, a.backend_start
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted
                 AND ((l.classid::bigint << 32) | l.objid::bigint) = %s""",
            (key & 0xFFFFFFFFFFFFFFFF,),
        ).fetchone()
        return f" (pid {row[0]}, user {row[1]}, since {row[3]:%Y-%m-%d %H:%M:%S})" if row else ""

    def ensure_meta(self) -> None:
        self.conn.execute(_sql_file("postgres_meta.sql"))

    def _meta_exists(self) -> bool:
        row = self.conn.execute("SELECT to_regclass('platform_meta.schema_migrations')").fetchone()
        return row[0] is not None

    def applied(self, target: str) -> list[AppliedMigration]:
        if not self._meta_exists():
            return []
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                """SELECT version, slug, checksum, applied_at, duration_ms, applied_by, dirty,
                          transactional, metadata
                   FROM platform_meta.schema_migrations WHERE target = %s ORDER BY version""",
                (target,),
            ).fetchall()
        return [AppliedMigration(**row) for row in rows]

    def run(
        self,
        sql_text: str,
        *,
        transactional: bool,
        settings: Settings,
        history: HistoryWrite | None,
    ) -> None:
        if transactional:
            self._run_in_transaction(sql_text, settings, history)
        else:
            self._run_statement_by_statement(sql_text, settings)
            if history is not None:
                self.write_history(history)

    def _run_in_transaction(
        self, sql_text: str, settings: Settings, history: HistoryWrite | None
    ) -> None:
        with self.conn.transaction():
            self._set_timeouts(local=True, settings=settings)
            self._execute_each(sql_text)
            if history is not None:
                self._history_statement(history)

    def _run_statement_by_statement(self, sql_text: str, settings: Settings) -> None:
        self._set_timeouts(local=False, settings=settings)
        try:
            self._execute_each(sql_text)
        finally:
            if not self.conn.closed:
                self.conn.execute("RESET lock_timeout; RESET statement_timeout")

    def _execute_each(self, sql_text: str) -> None:
        """One statement per round trip, so a failure names the statement's line in the file."""
        for statement in split_statements(sql_text):
            if not statement.runs_on(self.kind):
                continue
            try:
                # bytes: psycopg must not treat a literal % in the SQL as a placeholder
                self.conn.execute(statement.text.encode())
            except psycopg.Error as exc:
                raise _statement_failed(exc, statement.text, first_line=statement.line) from exc

    def _set_timeouts(self, *, local: bool, settings: Settings) -> None:
        scope = "LOCAL " if local else ""
        self.conn.execute(
            f"SET {scope}lock_timeout = {int(settings.lock_timeout_ms)};"
            f"SET {scope}statement_timeout = {int(settings.statement_timeout_ms)}"
        )

    def write_history(self, change: HistoryWrite) -> None:
        with self.conn.transaction():
            self._history_statement(change)

    def _history_statement(self, change: HistoryWrite) -> None:
        if change.action == "delete":
            self.conn.execute(
                "DELETE FROM platform_meta.schema_migrations WHERE target = %s AND version = %s",
                (change.target, change.version),
            )
            return
        self.conn.execute(
            """INSERT INTO platform_meta.schema_migrations AS h
                   (target, version, slug, checksum, applied_at, duration_ms, applied_by, dirty,
                    transactional, metadata)
               VALUES (%s, %s, %s, %s, clock_timestamp(), %s, %s, %s, %s, %s)
               ON CONFLICT (target, version) DO UPDATE SET
                   slug = excluded.slug, checksum = excluded.checksum,
                   applied_at = excluded.applied_at, duration_ms = excluded.duration_ms,
                   applied_by = excluded.applied_by, dirty = excluded.dirty,
                   transactional = excluded.transactional, metadata = excluded.metadata""",
            (
                change.target,
                change.version,
                change.slug,
                change.checksum,
                change.duration_ms,
                change.applied_by,
                change.dirty,
                change.transactional,
                json.dumps(change.metadata, default=str),
            ),
        )

    def write_audit(self, record: AuditRecord) -> None:
        with self.conn.transaction():
            self.conn.execute(
                """INSERT INTO platform_meta.migration_audit (actor, action, target, version, metadata)
                   VALUES (%s, %s, %s, %s, %s)""",
                (
                    record.actor,
                    record.action,
                    record.target,
                    record.version,
                    json.dumps(record.metadata, default=str),
                ),
            )
            self._write_operational_audit(record)

    def _write_operational_audit(self, record: AuditRecord) -> None:
        """Also into the operational audit log once a migration has created it."""
        exists = self.conn.execute(
            "SELECT to_regprocedure('public.record_migration_audit(text,text,text,text,jsonb)')"
        ).fetchone()[0]
        if exists is None:
            return
        self.conn.execute(
            "SELECT public.record_migration_audit(%s, %s, %s, %s, %s::jsonb)",
            (
                record.actor,
                record.action,
                record.target,
                record.version,
                json.dumps(record.metadata, default=str),
            ),
        )

    def row_counts(self, tables: list[str], exact_limit: int) -> dict[str, RowCount]:
        counts: dict[str, RowCount] = {}
        for table in tables:
            oid_row = self.conn.execute("SELECT to_regclass(%s)::oid", (table,)).fetchone()
            if oid_row is None or oid_row[0] is None:
                continue
            estimate = self.conn.execute(
                "SELECT reltuples::bigint, relkind FROM pg_class WHERE oid = %s", (oid_row[0],)
            ).fetchone()
            if estimate[1] not in ("r", "p", "m", "f"):
                continue
            if estimate[0] > exact_limit:
                counts[table] = RowCount(int(estimate[0]), exact=False)
                continue
            exact = self.conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))
            ).fetchone()[0]
            counts[table] = RowCount(int(exact), exact=True)
        return counts

    def catalog(self) -> list[tuple[str, ...]]:
        rows = self.conn.execute(_sql_file("postgres_catalog.sql")).fetchall()
        return [tuple(str(value) for value in row) for row in rows]

    def invalid_indexes(self) -> list[str]:
        """Indexes left INVALID by an interrupted CREATE INDEX CONCURRENTLY."""
        rows = self.conn.execute(
            """SELECT n.nspname || '.' || c.relname FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE NOT i.indisvalid ORDER BY 1"""
        ).fetchall()
        return [row[0] for row in rows]


def _statement_failed(exc: psycopg.Error, statement: str, *, first_line: int) -> StatementFailed:
    """Point at the error's line: the statement's own line plus the error position within it."""
    diag = getattr(exc, "diag", None)
    position = getattr(diag, "statement_position", None) if diag else None
    line = first_line + (line_of_offset(statement, int(position)) - 1 if position else 0)
    message = (getattr(diag, "message_primary", None) if diag else None) or str(exc).strip()
    return StatementFailed(message, sqlstate=getattr(exc, "sqlstate", None), line=line)
