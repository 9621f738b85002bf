"""The narrow interface the runner needs from a database: lock, run, history, audit, catalog.

Every driver behaves the same at this interface; tests/integration/test_migration_driver_conformance.py
runs one suite, unchanged, against each of them. Failures to reach the database are typed
(errors.DatabaseMissing, AuthenticationRefused, ServerUnreachable, PrivilegesMissing), never
left for the caller to recognise by message text.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from dagster_project.lib.migrations.config import Settings

META_SCHEMA = "platform_meta"


@dataclass(frozen=True)
class AppliedMigration:
    version: str
    slug: str
    checksum: str
    applied_at: datetime
    duration_ms: int | None
    applied_by: str
    dirty: bool
    transactional: bool
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryWrite:
    """A change to the history table, written atomically with a migration where possible."""

    action: Literal["upsert", "delete"]
    target: str
    version: str
    slug: str = ""
    checksum: str = ""
    duration_ms: int | None = None
    applied_by: str = ""
    dirty: bool = False
    transactional: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    actor: str
    action: Literal["apply", "rollback", "repair", "failure"]
    target: str
    version: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RowCount:
    rows: int
    exact: bool


class StatementFailed(Exception):
    """A migration statement failed; carries the SQL state and where in the file it happened."""

    def __init__(self, message: str, *, sqlstate: str | None, line: int | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.line = line


class Driver(ABC):
    """One database kind. The runner holds the rules; a driver only speaks the dialect."""

    kind: str

    @abstractmethod
    def lock(self, target: str, wait_seconds: float) -> AbstractContextManager[None]:
        """Hold the target's migration lock, waiting at most `wait_seconds`; raise if it's held."""

    @abstractmethod
    def ensure_meta(self) -> None:
        """Create the history and audit tables when missing."""

    @abstractmethod
    def applied(self, target: str) -> list[AppliedMigration]:
        """Applied migrations, oldest first; empty when the history table does not exist."""

    @abstractmethod
    def run(
        self,
        sql: str,
        *,
        transactional: bool,
        settings: Settings,
        finish: Callable[[], HistoryWrite | None] | None = None,
    ) -> None:
        """Run one migration file, then write the history change `finish()` returns.

        Transactional: the statements, `finish()` and its history write share one transaction, so
        the SQL and its history row commit together (or not at all). Not transactional: statement
        by statement, each committed; then `finish()` and its history write."""

    @abstractmethod
    def write_history(self, change: HistoryWrite) -> None:
        """One statement: insert-or-update the (target, version) row, or delete it."""

    @abstractmethod
    def write_audit(self, record: AuditRecord) -> None:
        """Append one record to the engine's own audit table."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Group the writes inside (an audit record and its application hooks) atomically."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement with positional parameters (%s on PostgreSQL, ? on DuckDB); its rows.
        For application hooks (see migrations.hooks), which the driver itself knows nothing of."""

    @abstractmethod
    def row_counts(self, tables: list[str], exact_limit: int) -> dict[str, RowCount]:
        """Rows in each existing table of `tables` (missing tables are left out)."""

    @abstractmethod
    def catalog(self) -> list[tuple[str, ...]]:
        """A sorted, comparable description of every user object outside the meta schema."""

    def invalid_indexes(self) -> list[str]:
        """Indexes an interrupted concurrent build left unusable; none where that can't happen."""
        return []

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_TOUCHED_TABLE = re.compile(
    r"""\b(?:CREATE\s+(?:UNLOGGED\s+)?TABLE|ALTER\s+TABLE|INSERT\s+INTO|UPDATE|DELETE\s+FROM|
        TRUNCATE(?:\s+TABLE)?|DROP\s+TABLE|CREATE\s+(?:UNIQUE\s+)?INDEX(?:\s+CONCURRENTLY)?
        (?:\s+IF\s+NOT\s+EXISTS)?\s+\w+\s+ON)
        \s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:ONLY\s+)?
        (?P<name>"?[A-Za-z_][\w$]*"?(?:\."?[A-Za-z_][\w$]*"?)?)""",
    re.IGNORECASE | re.VERBOSE,
)


def touched_tables(sql: str) -> list[str]:
    """Tables a migration creates, alters, writes or drops (for the row-count hooks)."""
    from dagster_project.lib.migrations.source import strip_sql_comments

    names: list[str] = []
    for match in _TOUCHED_TABLE.finditer(strip_sql_comments(sql)):
        name = match["name"].replace('"', "")
        if name.lower() not in {n.lower() for n in names}:
            names.append(name)
    return names


def line_of_offset(text: str, offset: int | None) -> int | None:
    """1-based line of a 1-based character offset (PostgreSQL's error position)."""
    if not offset:
        return None
    return text.count("\n", 0, max(offset - 1, 0)) + 1
