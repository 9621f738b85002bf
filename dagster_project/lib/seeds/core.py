"""What every seed writer shares: the report, the error type and the idempotent insert."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from dagster_project.lib.errors import PlatformError
from dagster_project.lib.keys.apikeys import ApiKey


class SeedError(PlatformError, ValueError):
    """A problem a person fixes (bad fixture, unmigrated database, wrong role): one line, no
    traceback. A ValueError so the CLI's `user_errors` wrapper prints it as such."""


@dataclass
class TableCount:
    inserted: int = 0
    existing: int = 0


@dataclass(frozen=True)
class DevKey:
    """A dev API key this run created. `key` is the plaintext, shown once and never stored; its
    repr shows only the display prefix, so a report that is logged leaks nothing."""

    organization: str
    name: str
    id: uuid.UUID
    key: ApiKey
    scopes: tuple[str, ...]
    expires_at: datetime | None
    revoked: bool


@dataclass
class SeedReport:
    tables: dict[str, TableCount] = field(default_factory=dict)
    new_keys: list[DevKey] = field(default_factory=list)
    # "org/name (display prefix)" of fixture keys that already existed: their plaintexts were
    # shown when they were created and cannot be recovered from the stored sha256.
    existing_keys: list[str] = field(default_factory=list)

    def count(self, table: str, *, inserted: bool, rows: int = 1) -> None:
        counts = self.tables.setdefault(table, TableCount())
        if inserted:
            counts.inserted += rows
        else:
            counts.existing += rows

    @property
    def inserted(self) -> int:
        return sum(c.inserted for c in self.tables.values())

    def as_metadata(self) -> dict[str, Any]:
        """Counts and key prefixes only: safe for logs and Dagster metadata."""
        return {
            "inserted_total": self.inserted,
            "counts": {
                t: {"inserted": c.inserted, "existing": c.existing} for t, c in self.tables.items()
            },
            "new_key_prefixes": [
                f"{k.organization}/{k.name}: {k.key.prefix}" for k in self.new_keys
            ],
            "existing_keys": list(self.existing_keys),
        }


def insert_row(
    conn: psycopg.Connection,
    report: SeedReport,
    table: str,
    row: dict[str, Any],
    pk: tuple[str, ...] = ("id",),
) -> bool:
    """INSERT `row` into app.`table` unless it exists; True when this call inserted it.

    ON CONFLICT DO NOTHING writes nothing at all for an existing row (no new row version, no
    touched timestamps), which is what makes a second run a no-op. Existing rows are left as
    they are, never "corrected" to the fixture: seeds create, they do not manage.
    A conflict must be on the seed's own primary key: if the row's *other* unique key (a slug,
    an email, ...) belongs to a row with another id, the database was not seeded by us, and the
    rows that reference the seed's id would fail later with a less helpful error.
    """
    columns = list(row)
    inserted = (
        conn.execute(
            sql.SQL(
                "INSERT INTO app.{} ({}) VALUES ({}) ON CONFLICT DO NOTHING RETURNING true"
            ).format(
                sql.Identifier(table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(map(sql.Placeholder, columns)),
            ),
            row,
        ).fetchone()
        is not None
    )
    if not inserted:
        where = sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in pk
        )
        query = sql.SQL("SELECT 1 FROM app.{} WHERE {}").format(sql.Identifier(table), where)
        if conn.execute(query, {c: row[c] for c in pk}).fetchone() is None:
            natural = {c: v for c, v in row.items() if c not in pk and isinstance(v, str)}
            raise SeedError(
                f"app.{table}: a row not created by the seeds already uses a unique value of "
                f"seed row {natural}; seed an empty (freshly migrated) database"
            )
    report.count(table, inserted=inserted)
    return inserted
