"""What reconciliation and the expectation suites share: UTC hour ranges, warehouse engines,
relation names, the SQL files and the connections.

Ranges are rendered into SQL as literals, never as parameters: the values are datetimes this
module validated and formats itself (no caller text reaches the SQL), the same text runs on
DuckDB and PostgreSQL, and PostgreSQL prunes the usage_events partitions at plan time only for
literal bounds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dagster_project.lib.db import urls
from dagster_project.lib.db.postgres import LOADER_ROLE
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.rollup.ranges import HourRange, merge
from dagster_project.lib.sqlfiles import read_sql

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# The operational side is read as the loader's role (contract: "Reconciliation reads the
# operational side as the same role"): SELECT-only, sees every tenant through USING (true).
OPERATIONAL_ROLE = LOADER_ROLE

Range = tuple[datetime, datetime]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class QualityInputError(PlatformError, ValueError):
    """Bad input to a quality function; the message is one line naming the problem."""


def sql_text(name: str) -> str:
    """The text of lib/quality/sql/<name>."""
    return read_sql("dagster_project.lib.quality", name)


# -- ranges -------------------------------------------------------------------------------------


def _moment(value: datetime | str, what: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise QualityInputError(f"{what}: not an ISO-8601 timestamp: {value!r}") from None
    if not isinstance(value, datetime):
        raise QualityInputError(f"{what}: expected a datetime or ISO-8601 string, got {value!r}")
    if value.tzinfo is None:
        raise QualityInputError(f"{what}: timestamp without a time zone: {value.isoformat()}")
    value = value.astimezone(UTC)
    if value != value.replace(minute=0, second=0, microsecond=0):
        raise QualityInputError(f"{what}: not the start of a UTC hour: {value.isoformat()}")
    return value


def normalize_ranges(ranges: Iterable[Sequence[datetime | str]]) -> list[Range]:
    """[start, end) pairs (datetimes or ISO strings, hour-aligned, with a zone) -> sorted,
    merged UTC ranges. Overlapping or touching ranges merge, so no hour is counted twice."""
    parsed: list[Range] = []
    for n, pair in enumerate(ranges):
        if isinstance(pair, str | bytes) or len(pair) != 2:
            raise QualityInputError(f"range {n}: expected a [start, end) pair, got {pair!r}")
        start, end = _moment(pair[0], f"range {n} start"), _moment(pair[1], f"range {n} end")
        if start >= end:
            raise QualityInputError(
                f"range {n}: start {start.isoformat()} is not before end {end.isoformat()}"
            )
        parsed.append((start, end))
    if not parsed:
        raise QualityInputError("no ranges given: name the [start, end) hours to check")
    return [(r.start, r.end) for r in merge(HourRange(start, end) for start, end in parsed)]


def widen_to_days(ranges: Iterable[Sequence[datetime | str]]) -> list[Range]:
    """The ranges widened to whole UTC days (what the daily models rebuild), merged."""
    days = (HourRange(start, end).days() for start, end in normalize_ranges(ranges))
    return [(r.start, r.end) for r in merge(days)]


def days_of(ranges: Iterable[Sequence[datetime | str]]) -> list[date]:
    """Every UTC day the ranges touch."""
    days: list[date] = []
    for start, end in widen_to_days(ranges):
        day = start
        while day < end:
            days.append(day.date())
            day += DAY
    return days


def normalize_days(days: Iterable[date | str]) -> list[date]:
    parsed: set[date] = set()
    for n, value in enumerate(days):
        if isinstance(value, datetime):
            raise QualityInputError(f"day {n}: expected a date, got a datetime {value!r}")
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise QualityInputError(f"day {n}: not an ISO date: {value!r}") from None
        if not isinstance(value, date):
            raise QualityInputError(f"day {n}: expected a date or ISO string, got {value!r}")
        parsed.add(value)
    if not parsed:
        raise QualityInputError("no days given: name the UTC days to check")
    return sorted(parsed)


def day_ranges(days: Iterable[date]) -> list[Range]:
    return normalize_ranges(
        (datetime.combine(d, time(), UTC), datetime.combine(d, time(), UTC) + DAY) for d in days
    )


def timestamp_literal(moment: datetime) -> str:
    return f"CAST('{moment.astimezone(UTC).isoformat()}' AS TIMESTAMPTZ)"


def in_ranges(column: str, ranges: Sequence[Range]) -> str:
    """`column` within any of the (already normalized) ranges, as a SQL predicate."""
    if not _IDENTIFIER.match(column.split(".")[-1]):
        raise QualityInputError(f"not a plain column name: {column!r}")
    terms = [
        f"({column} >= {timestamp_literal(start)} AND {column} < {timestamp_literal(end)})"
        for start, end in ranges
    ]
    return "(" + " OR ".join(terms) + ")"


def render(
    name: str, ranges: Sequence[Range] = (), days: Sequence[date] = (), **relations: str
) -> str:
    """lib/quality/sql/<name> with `{relation}`-style placeholders replaced by quoted relation
    names, `{in_ranges:column}` by that column's range predicate and `{days}` by date literals."""
    text = sql_text(name)
    text = re.sub(r"\{in_ranges:([A-Za-z_.]+)\}", lambda m: in_ranges(m.group(1), ranges), text)
    values = {key: quote_relation(value) for key, value in relations.items()}
    if "{days}" in text:
        values["days"] = ", ".join(f"CAST('{d.isoformat()}' AS DATE)" for d in days)
    return text.format(**values)


# -- relations and engines ----------------------------------------------------------------------


def quote_relation(relation: str) -> str:
    """'schema.table' -> '"schema"."table"' (the same quoting on both engines)."""
    parts = relation.split(".")
    if len(parts) != 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise QualityInputError(f"not a schema.table relation name: {relation!r}")
    return ".".join(f'"{p}"' for p in parts)


def warehouse_engine(url: str) -> str:
    """'duckdb' or 'postgres' for a WAREHOUSE_URL (lib/db/urls.py decides)."""
    try:
        return urls.engine(url)
    except urls.WarehouseURLError:
        from dagster_project.lib.db.postgres import redact

        raise QualityInputError(
            f"unsupported warehouse URL {redact(url)!r}: expected duckdb:///path or postgresql://"
        ) from None


@contextmanager
def warehouse_cursor(url: str) -> Iterator[Any]:
    """A connection to the warehouse, read-only where the engine allows it, closed on exit.

    DuckDB: the file is opened read-only (no Dagster process may hold a DuckDB handle across a
    dbt call; a read-only open fails fast if a writer holds it) with the session zone pinned to
    UTC so TIMESTAMPTZ values come back in UTC. PostgreSQL: a READ ONLY transaction."""
    if warehouse_engine(url) == "duckdb":
        import duckdb

        from dagster_project.lib.migrations.drivers.duckdb import duckdb_path

        path = duckdb_path(url)
        if not path.exists():
            raise QualityInputError(f"DuckDB warehouse does not exist: {path}")
        conn = duckdb.connect(str(path), read_only=True)
        try:
            conn.execute("SET TimeZone = 'UTC'")
            yield conn
        finally:
            conn.close()
    else:
        from dagster_project.lib.db.postgres import connect

        with connect(url) as conn:
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SET LOCAL TimeZone = 'UTC'")
            yield conn
            conn.rollback()


@contextmanager
def operational_cursor(url: str) -> Iterator[Any]:
    """The operational database as `platform_loader`, in one REPEATABLE READ READ ONLY
    transaction: the raw events and the trigger-kept rollups are read from the same snapshot,
    so an ingest committing meanwhile cannot make them disagree."""
    from psycopg import errors

    from dagster_project.lib.db.postgres import connect, redact

    with connect(url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        try:
            conn.execute(f"SET LOCAL ROLE {OPERATIONAL_ROLE}")
        except (errors.InvalidParameterValue, errors.InsufficientPrivilege) as exc:
            raise QualityInputError(
                f"{redact(url)}: cannot SET ROLE {OPERATIONAL_ROLE} "
                f"({str(exc).strip().splitlines()[0]}); run the operational migrations and "
                f"connect as {OPERATIONAL_ROLE} or a member of it"
            ) from None
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        yield conn
        conn.rollback()
