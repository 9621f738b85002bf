"""What both warehouse targets share: the job description, range predicates, fingerprints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from dagster_project.lib.db.postgres import LOADER_ROLE  # noqa: F401  (common.LOADER_ROLE)
from dagster_project.lib.rollup.ranges import HourRange, iso
from dagster_project.lib.sqlfiles import read_sql
from dagster_project.lib.warehouse.export import EVENTS, ExportTable

# The warehouse writers' advisory lock (analytics contract): a literal, so the loader and the dbt
# pre-hooks agree without any hashing differences.
WAREHOUSE_LOCK = 7346001
SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
LOADED_HOURS_COLUMNS = ("hour_start", "events", "cost_usd", "loaded_at", "load_id")


def sql_text(name: str, **parts: str) -> str:
    text = read_sql(__package__, name)
    return text.format(**parts) if parts else text


def ranges_predicate(column: str, ranges: Iterable[HourRange]) -> str:
    """`(col >= TIMESTAMPTZ '..' AND col < TIMESTAMPTZ '..') OR ...`, valid on both engines.
    The literals are ISO strings of validated datetimes, never user text."""
    terms = [
        f"({column} >= TIMESTAMPTZ '{iso(r.start)}' AND {column} < TIMESTAMPTZ '{iso(r.end)}')"
        for r in ranges
    ]
    return "(" + " OR ".join(terms) + ")"


@dataclass(frozen=True)
class Job:
    ranges: tuple[HourRange, ...]
    tables: dict[str, ExportTable]
    pads: tuple[str, str]
    load_id: str

    @property
    def events(self) -> ExportTable:
        return self.tables[EVENTS]

    @property
    def dimensions(self) -> list[ExportTable]:
        return [t for name, t in self.tables.items() if name != EVENTS]

    def hours(self) -> list[datetime]:
        return [h for r in self.ranges for h in r.each_hour()]


@dataclass
class Landed:
    """What one target wrote, in its one transaction."""

    events: int = 0
    fingerprint: dict[datetime, tuple[int, Decimal]] = field(default_factory=dict)
    landed_per_hour: dict[datetime, int] = field(default_factory=dict)
    dimensions: dict[str, int] = field(default_factory=dict)


def utc(moment: datetime) -> datetime:
    """A warehouse timestamp as aware UTC (DuckDB and PostgreSQL may hand back naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def fingerprint_rows(rows: Iterable[Sequence]) -> dict[datetime, tuple[int, Decimal]]:
    """(hour, events, cost) rows -> {hour: (events, cost)}; cost may arrive as text (ADBC)."""
    return {utc(h): (int(n), Decimal(str(c))) for h, n, c in rows}


def loaded_hours_rows(job: Job, fingerprint: dict[datetime, tuple[int, Decimal]]) -> list[tuple]:
    """One landing.loaded_hours row per hour of the job: hours without events get (0, 0)."""
    loaded_at = datetime.now(UTC)
    zero = (0, Decimal(0))
    return [(h, *fingerprint.get(h, zero), loaded_at, job.load_id) for h in job.hours()]
