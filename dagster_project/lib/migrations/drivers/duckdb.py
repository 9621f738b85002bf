"""DuckDB driver for the embedded analytics warehouse.

DuckDB has no advisory locks and one writer process per file, so the migration lock is an
exclusive `flock` on a sibling `.migrate.lock` file with the same bounded wait as PostgreSQL.
lock_timeout/statement_timeout have no DuckDB equivalent and are not applied.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import duckdb

from dagster_project.lib.migrations.config import Settings
from dagster_project.lib.migrations.drivers.base import (
    AppliedMigration,
    AuditRecord,
    Driver,
    HistoryWrite,
    RowCount,
    StatementFailed,
)
from dagster_project.lib.migrations.errors import LockNotAcquired
from dagster_project.lib.migrations.sqlsplit import split_statements
from dagster_project.lib.paths import PROJECT_ROOT
from dagster_project.lib.sqlfiles import read_sql

_LOCK_POLL_SECONDS = 0.2  # same cadence as the PostgreSQL advisory-lock wait


def duckdb_path(url: str) -> Path:
    """duckdb:///relative/to/project.duckdb or duckdb:////absolute/path.duckdb -> a Path."""
    if not url.startswith("duckdb:///"):
        raise ValueError(f"not a DuckDB URL (expected duckdb:///path): {url}")
    rest = url[len("duckdb:///") :]
    path = Path(rest)
    return path if path.is_absolute() else PROJECT_ROOT / path


class DuckDBDriver(Driver):
    kind = "duckdb"

    def __init__(self, url: str, *, settings: Settings | None = None, create_database: bool = True):
        self.url = url
        self.path = duckdb_path(url)
        if not create_database and not self.path.exists():
            raise FileNotFoundError(f"DuckDB warehouse does not exist: {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = duckdb.connect(str(self.path))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def lock(self, target: str, wait_seconds: float) -> Iterator[None]:
        lock_path = self.path.with_name(f"{self.path.name}.{target}.migrate.lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole run
        deadline = time.monotonic() + wait_seconds
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockNotAcquired(
                            f"locked: another migration run holds {lock_path}; "
                            f"waited {wait_seconds:g}s"
                        ) from None
                    time.sleep(_LOCK_POLL_SECONDS)
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            handle.close()  # closing releases the flock

    def ensure_meta(self) -> None:
        self.conn.execute(_meta_sql())

    def _meta_exists(self) -> bool:
        row = self.conn.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE schema_name = 'platform_meta' AND table_name = 'schema_migrations'"
        ).fetchone()
        return bool(row and row[0])

    def applied(self, target: str) -> list[AppliedMigration]:
        if not self._meta_exists():
            return []
        rows = self.conn.execute(
            """SELECT version, slug, checksum, applied_at, duration_ms, applied_by, dirty,
                      transactional, metadata
               FROM platform_meta.schema_migrations WHERE target = ? ORDER BY version""",
            [target],
        ).fetchall()
        return [
            AppliedMigration(
                version=r[0],
                slug=r[1],
                checksum=r[2],
                applied_at=r[3] if r[3].tzinfo else r[3].replace(tzinfo=UTC),
                duration_ms=r[4],
                applied_by=r[5],
                dirty=r[6],
                transactional=r[7],
                metadata=json.loads(r[8] or "{}"),
            )
            for r in rows
        ]

    def run(
        self,
        sql_text: str,
        *,
        transactional: bool,
        settings: Settings,
        history: HistoryWrite | None,
    ) -> None:
        if not transactional:
            self._run_statement_by_statement(sql_text)
            if history is not None:
                self.write_history(history)
            return
        self.conn.execute("BEGIN TRANSACTION")
        try:
            self._run_statement_by_statement(sql_text)
            if history is not None:
                self._history_statement(history)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _run_statement_by_statement(self, sql_text: str) -> None:
        """One statement at a time, so a failure names the statement's line in the file."""
        for statement in split_statements(sql_text):
            if not statement.runs_on(self.kind):
                continue
            try:
                self.conn.execute(statement.text)
            except duckdb.Error as exc:
                raise StatementFailed(
                    str(exc).splitlines()[0], sqlstate=None, line=statement.line
                ) from exc

    def write_history(self, change: HistoryWrite) -> None:
        self._history_statement(change)

    def _history_statement(self, change: HistoryWrite) -> None:
        self.conn.execute(
            "DELETE FROM platform_meta.schema_migrations WHERE target = ? AND version = ?",
            [change.target, change.version],
        )
        if change.action == "delete":
            return
        self.conn.execute(
            """INSERT INTO platform_meta.schema_migrations
                   (target, version, slug, checksum, applied_at, duration_ms, applied_by, dirty,
                    transactional, metadata)
               VALUES (?, ?, ?, ?, current_timestamp, ?, ?, ?, ?, ?)""",
            [
                change.target,
                change.version,
                change.slug,
                change.checksum,
                change.duration_ms,
                change.applied_by,
                change.dirty,
                change.transactional,
                json.dumps(change.metadata, default=str),
            ],
        )

    def write_audit(self, record: AuditRecord) -> None:
        self.conn.execute(
            """INSERT INTO platform_meta.migration_audit (actor, action, target, version, metadata)
               VALUES (?, ?, ?, ?, ?)""",
            [
                record.actor,
                record.action,
                record.target,
                record.version,
                json.dumps(record.metadata, default=str),
            ],
        )

    def row_counts(self, tables: list[str], exact_limit: int) -> dict[str, RowCount]:
        counts: dict[str, RowCount] = {}
        existing = {
            f"{schema}.{name}".lower(): (schema, name)
            for schema, name in self.conn.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall()
        }
        for table in tables:
            key = table.lower() if "." in table else f"main.{table.lower()}"
            if key not in existing:
                continue
            schema, name = existing[key]
            # DuckDB keeps exact row counts in its metadata: count(*) is cheap at any size.
            rows = self.conn.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
            counts[table] = RowCount(int(rows), exact=True)
        return counts

    def catalog(self) -> list[tuple[str, ...]]:
        queries = {
            "schema": "SELECT schema_name, '' FROM duckdb_schemas() WHERE NOT internal",
            "table": "SELECT schema_name || '.' || table_name, sql FROM duckdb_tables()",
            "column": """SELECT schema_name || '.' || table_name || '.' || column_name,
                                concat_ws(' ', data_type, CASE WHEN is_nullable THEN '' ELSE 'not null' END,
                                          'default=' || column_default, 'position=' || column_index)
                         FROM duckdb_columns()""",
            "constraint": """SELECT schema_name || '.' || table_name || '.' || constraint_type || '.'
                                    || array_to_string(constraint_column_names, ','),
                                    constraint_text FROM duckdb_constraints()""",
            "index": "SELECT schema_name || '.' || index_name, sql FROM duckdb_indexes()",
            "view": "SELECT schema_name || '.' || view_name, sql FROM duckdb_views() WHERE NOT internal",
            "sequence": "SELECT schema_name || '.' || sequence_name, '' FROM duckdb_sequences()",
            "macro": """SELECT schema_name || '.' || function_name, coalesce(macro_definition, '')
                        FROM duckdb_functions() WHERE NOT internal AND function_type LIKE '%macro'""",
        }
        rows: list[tuple[str, ...]] = []
        for kind, query in queries.items():
            for name, definition in self.conn.execute(query).fetchall():
                if str(name).startswith(("platform_meta", "temp.")) or name in ("main",):
                    continue
                rows.append((kind, str(name), str(definition)))
        return sorted(rows)


def _meta_sql() -> str:
    return read_sql("dagster_project.lib.migrations", "duckdb_meta.sql")
