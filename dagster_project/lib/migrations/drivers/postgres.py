"""PostgreSQL driver: session advisory lock, transactional DDL, history in platform_meta.

A connection that fails is classified by asking the server, not by reading its message: libpq's
PQping tells "no server answers" from "the server answers"; then a connection to the maintenance
database tells "the role is refused" from "the database is missing" (pg_database) and "the role
may not connect" (has_database_privilege). Only an unreachable server is retried.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq, sql
from psycopg.rows import dict_row

from dagster_project.lib.db.postgres import (
    BadDatabaseURL,
    DatabaseUnavailable,
    database_name,
    ensure_database,
    normalize_url,
    redact,
    scrub,
    with_database,
)
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
from dagster_project.lib.migrations.errors import (
    AuthenticationRefused,
    ConfigError,
    DatabaseMissing,
    LockNotAcquired,
    PrivilegesMissing,
    ServerUnreachable,
    TargetUnavailable,
)
from dagster_project.lib.migrations.sqlsplit import split_statements
from dagster_project.lib.sqlfiles import read_sql

# How often a waiting `up` retries pg_try_advisory_lock: fine enough to start promptly when the
# holder finishes, coarse enough not to hammer the server.
_LOCK_POLL_SECONDS = 0.2
# Databases every cluster has, tried in order to learn why the target database refused us.
_MAINTENANCE_DATABASES = ("postgres", "template1")


def _sql_file(name: str) -> str:
    return read_sql("dagster_project.lib.migrations", name)


def advisory_lock_key(target: str) -> int:
    """A stable signed 64-bit key per target, so two targets in one database don't block."""
    digest = hashlib.sha256(f"platform-migrate:{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _server_said(exc: BaseException) -> str:
    """libpq's last line about the failure, without its "connection to server at ..." prefix."""
    lines = str(exc).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else ""
    return text.rsplit(" failed: ", 1)[-1] if text else type(exc).__name__


def connect_failure(url: str, exc: BaseException) -> TargetUnavailable | ConfigError:
    """Why `url` refused a connection, as one typed error with one line."""
    shown = redact(url)
    said = scrub(_server_said(exc), url)
    ping = pq.Ping(pq.PGconn.ping(normalize_url(url).encode()))
    if ping == pq.Ping.NO_ATTEMPT:
        return ConfigError(f"bad PostgreSQL connection parameters in {shown}: {said}")
    if ping != pq.Ping.OK:
        return ServerUnreachable(
            f"no PostgreSQL server answers at {shown} ({said}): "
            "start one (`platformctl dev postgres up`) or fix the host and port in the URL"
        )
    name = database_name(url)
    for maintenance in _MAINTENANCE_DATABASES:
        try:
            with psycopg.connect(normalize_url(with_database(url, maintenance))) as conn:
                row = conn.execute(_sql_file("postgres_database_access.sql"), (name,)).fetchone()
        except psycopg.OperationalError:
            continue
        if row is None:
            return DatabaseMissing(
                f"database {name!r} does not exist on {shown} "
                "(`platformctl migrate up` creates it; check the database name)"
            )
        if not row[0] or not row[1]:
            return PrivilegesMissing(
                f"the role in {shown} may not connect to database {name!r} "
                "(GRANT CONNECT ON DATABASE, or datallowconn is off)"
            )
        return TargetUnavailable(f"database {name!r} on {shown} refused the connection: {said}")
    return AuthenticationRefused(
        f"PostgreSQL at {shown} refused the login: {said} (check the role and its password)"
    )


def _privileges_missing(exc: psycopg.errors.InsufficientPrivilege, url: str, doing: str):
    message = getattr(exc.diag, "message_primary", None) or str(exc).strip()
    return PrivilegesMissing(f"{doing} on {redact(url)}: {message}")


class PostgresDriver(Driver):
    kind = "postgres"

    def __init__(self, url: str, *, create_database: bool = True, settings: Settings | None = None):
        self.url = url
        settings = settings or Settings()
        self.conn = self._connect(create_database, settings)

    def _connect(self, create_database: bool, settings: Settings) -> psycopg.Connection:
        """Connect (creating the database first if asked); retry only while no server answers:
        a server that is still starting refuses connections for a moment."""
        attempts = max(settings.connect_attempts, 1)
        for attempt in range(1, attempts + 1):
            try:
                if create_database:
                    ensure_database(self.url)
                return psycopg.connect(normalize_url(self.url), autocommit=True)
            except psycopg.ProgrammingError as exc:  # libpq cannot parse the URL / conninfo
                # libpq quotes the part it cannot read, which may be the password: scrubbed.
                reason = scrub(_server_said(exc), self.url)
                raise BadDatabaseURL(f"invalid database URL {redact(self.url)}: {reason}") from None
            except psycopg.errors.InsufficientPrivilege as exc:
                raise _privileges_missing(exc, self.url, "cannot create the database") from None
            except psycopg.OperationalError as exc:
                failure = connect_failure(self.url, exc)
            except DatabaseUnavailable as exc:  # ensure_database's connect wraps "no server"
                failure = connect_failure(self.url, exc.__cause__ or exc)
            if not isinstance(failure, ServerUnreachable) or attempt >= attempts:
                raise failure from None
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
            _sql_file("postgres_lock_holder.sql"), (key & 0xFFFFFFFFFFFFFFFF,)
        ).fetchone()
        return f" (pid {row[0]}, user {row[1]}, since {row[3]:%Y-%m-%d %H:%M:%S})" if row else ""

    @contextmanager
    def _reading(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.errors.InsufficientPrivilege as exc:
            raise _privileges_missing(exc, self.url, doing) from None

    def ensure_meta(self) -> None:
        with self._reading("cannot create the migration history (schema platform_meta)"):
            self.conn.execute(_sql_file("postgres_meta.sql"))

    def _meta_exists(self) -> bool:
        row = self.conn.execute("SELECT to_regclass('platform_meta.schema_migrations')").fetchone()
        return row[0] is not None

    def applied(self, target: str) -> list[AppliedMigration]:
        with self._reading("cannot read the migration history platform_meta.schema_migrations"):
            if not self._meta_exists():
                return []
            with self.conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(_sql_file("postgres_applied.sql"), (target,)).fetchall()
        return [AppliedMigration(**row) for row in rows]

    def run(
        self,
        sql_text: str,
        *,
        transactional: bool,
        settings: Settings,
        finish: Callable[[], HistoryWrite | None] | None = None,
    ) -> None:
        if transactional:
            with self.conn.transaction():
                self._set_timeouts(local=True, settings=settings)
                self._execute_each(sql_text)
                self._finish(finish)
        else:
            self._run_statement_by_statement(sql_text, settings)
            self._finish(finish)

    def _finish(self, finish: Callable[[], HistoryWrite | None] | None) -> None:
        change = finish() if finish is not None else None
        if change is not None:
            self.write_history(change)

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
        if change.action == "delete":
            self.conn.execute(
                "DELETE FROM platform_meta.schema_migrations WHERE target = %s AND version = %s",
                (change.target, change.version),
            )
            return
        self.conn.execute(
            _sql_file("postgres_history_upsert.sql"),
            {
                "target": change.target,
                "version": change.version,
                "slug": change.slug,
                "checksum": change.checksum,
                "duration_ms": change.duration_ms,
                "applied_by": change.applied_by,
                "dirty": change.dirty,
                "transactional": change.transactional,
                "metadata": json.dumps(change.metadata, default=str),
            },
        )

    def write_audit(self, record: AuditRecord) -> None:
        self.conn.execute(
            "INSERT INTO platform_meta.migration_audit (actor, action, target, version, metadata) "
            "VALUES (%s, %s, %s, %s, %s)",
            (
                record.actor,
                record.action,
                record.target,
                record.version,
                json.dumps(record.metadata, default=str),
            ),
        )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def execute(self, sql_text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(sql_text, tuple(params))
        return cursor.fetchall() if cursor.description else []

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
        rows = self.conn.execute(_sql_file("postgres_invalid_indexes.sql")).fetchall()
        return [row[0] for row in rows]


def _statement_failed(exc: psycopg.Error, statement: str, *, first_line: int) -> StatementFailed:
    """Point at the error's line: the statement's own line plus the error position within it."""
    diag = getattr(exc, "diag", None)
    position = getattr(diag, "statement_position", None) if diag else None
    line = first_line + (line_of_offset(statement, int(position)) - 1 if position else 0)
    message = (getattr(diag, "message_primary", None) if diag else None) or str(exc).strip()
    return StatementFailed(message, sqlstate=getattr(exc, "sqlstate", None), line=line)
