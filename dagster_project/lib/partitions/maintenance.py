"""Daily partitions of app.usage_events: create ahead of time, retire past retention, report.

All day math is in UTC (partitions are bounded at UTC midnight) and takes `today` as a parameter,
so tests and dry runs can ask "what about day X". The window that must exist is
[today - lookback_days, today + future_days]; a partition expires when its upper bound is at or
before UTC midnight of today - retention_days, so partitions inside retention are never touched.

Retiring a partition is two steps: DETACH (CONCURRENTLY unless a default partition exists, which
forbids it), then DROP TABLE or keep it as `<partition>_detached` in the archive schema. A
concurrent detach that is cancelled (lock_timeout) leaves the partition "detach pending"; the
next prune FINALIZEs it first. A crash between the two steps leaves a plain table named like a
partition (an "orphan"); the next prune finishes it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from dagster_project.lib.db import postgres
from dagster_project.lib.partitions.config import PartitionError, Policy, load_policy

# Rows of a default partition are counted up to this many: any row fails the check, and an exact
# count(*) over a default partition that swallowed days of ingest would scan billions of rows.
DEFAULT_ROWS_CAP = 1_000_000

_PARTITIONS_SQL = r"""
SELECT n.nspname || '.' || c.relname AS name,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM \('([^']*)'\)$$))[1]::timestamptz,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), $$TO \('([^']*)'\)$$))[1]::timestamptz,
       inh.inhdetachpending,
       c.oid = pt.partdefid AS is_default
FROM pg_inherits inh
JOIN pg_class c ON c.oid = inh.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_partitioned_table pt ON pt.partrelid = inh.inhparent
WHERE inh.inhparent = %s::regclass
ORDER BY 2 NULLS FIRST, 1
"""

# Plain tables in `schema` whose name matches `pattern`: orphans and detached partitions.
_TABLES_SQL = """
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'r' AND NOT c.relispartition AND c.relname ~ %s
ORDER BY 1
"""


@dataclass(frozen=True)
class Partition:
    name: str  # schema-qualified
    lower: datetime | None  # None: MINVALUE
    upper: datetime | None  # None: MAXVALUE
    detach_pending: bool = False

    def covers(self, day: date) -> bool:
        start, end = midnight(day), midnight(day + timedelta(days=1))
        return (self.lower is None or self.lower <= start) and (
            self.upper is None or self.upper >= end
        )

    def expired(self, cutoff: datetime) -> bool:
        return self.upper is not None and self.upper <= cutoff


@dataclass
class Status:
    table: str
    today: date
    partitions: list[Partition]
    missing_days: list[date]  # in the needed window and not covered by an attached partition
    expired: list[str]  # what prune would retire now
    default_partition: str | None
    default_rows: int  # capped at DEFAULT_ROWS_CAP
    detached: list[str]  # kept by on_expiry=detach, waiting to be archived
    orphans: list[str]  # detached by a run that stopped before finishing them

    @property
    def healthy(self) -> bool:
        return not self.missing_days and self.default_rows == 0

    @property
    def oldest_bound(self) -> datetime | None:
        return min((p.lower for p in self.partitions if p.lower), default=None)

    @property
    def newest_bound(self) -> datetime | None:
        return max((p.upper for p in self.partitions if p.upper), default=None)

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "healthy": self.healthy,
            "partition_count": len(self.partitions),
            "oldest_bound": self.oldest_bound,
            "newest_bound": self.newest_bound,
        }


@dataclass(frozen=True)
class Retired:
    partition: str
    lower: datetime | None
    upper: datetime | None
    detach: str  # "concurrently", "finalize" (was pending), "plain" or "already detached"
    kept_as: str | None  # the detached table, None when dropped


@dataclass
class PruneResult:
    table: str
    today: date
    cutoff: datetime
    on_expiry: str
    dry_run: bool
    retired: list[Retired] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection to the operational database at `url` (the caller resolves it:
    the CLI from --database-url/$DATABASE_URL, Dagster from its operational_db resource):
    DETACH ... CONCURRENTLY cannot run inside a transaction."""
    return postgres.connect(url, autocommit=True, application_name="platform-partitions")


def today_utc() -> date:
    return datetime.now(UTC).date()


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def needed_days(policy: Policy, today: date) -> list[date]:
    return [today + timedelta(days=n) for n in range(-policy.lookback_days, policy.future_days + 1)]


def retention_cutoff(policy: Policy, today: date) -> datetime:
    return midnight(today - timedelta(days=policy.retention_days))


def status(
    conn: psycopg.Connection, today: date | None = None, policy: Policy | None = None
) -> Status:
    """Partitions with bounds, missing days of the needed window, default partition and rows."""
    policy = policy or load_policy()
    today = today or today_utc()
    partitions, default = _partitions(conn, policy)
    attached = [p for p in partitions if not p.detach_pending]
    cutoff = retention_cutoff(policy, today)
    return Status(
        table=policy.table,
        today=today,
        partitions=partitions,
        missing_days=[
            d for d in needed_days(policy, today) if not any(p.covers(d) for p in attached)
        ],
        expired=[p.name for p in partitions if p.expired(cutoff)],
        default_partition=default,
        default_rows=_count_rows(conn, default) if default else 0,
        detached=_tables(conn, policy.archive_schema, rf"^{policy.name}_p[0-9]{{8}}_detached$"),
        orphans=[p.name for p in _orphans(conn, policy)],
    )


def ensure(
    conn: psycopg.Connection, today: date | None = None, policy: Policy | None = None
) -> list[str]:
    """Create the missing partitions of [today - lookback_days, today + future_days] with the
    schema's own function. Returns the names created (none when all exist)."""
    policy = policy or load_policy()
    days = needed_days(policy, today or today_utc())
    _require_autocommit(conn, "ensure")
    before = {p.name for p in _partitions(conn, policy)[0]}
    call = sql.SQL("SELECT {}(%s, %s)").format(_ident(policy.ensure_function))
    with _lock_timeout(conn, policy.lock_timeout_ms, f"creating partitions of {policy.table}"):
        conn.execute(call, (days[0], days[-1] + timedelta(days=1)))
    return sorted({p.name for p in _partitions(conn, policy)[0]} - before)


def prune(
    conn: psycopg.Connection,
    today: date | None = None,
    dry_run: bool = False,
    policy: Policy | None = None,
) -> PruneResult:
    """Detach, then drop or keep, every partition whose upper bound <= today - retention_days."""
    policy = policy or load_policy()
    today = today or today_utc()
    _require_autocommit(conn, "prune")
    result = PruneResult(
        policy.table, today, retention_cutoff(policy, today), policy.on_expiry, dry_run
    )
    partitions, default = _partitions(conn, policy)
    for p in partitions:
        if p.detach_pending and not p.expired(result.cutoff):
            raise PartitionError(
                f"{p.name} is pending detach but inside retention: someone else started that "
                "detach. Finish it (ALTER TABLE ... DETACH PARTITION ... FINALIZE) or re-attach "
                "it by hand; until then no partition can be detached concurrently."
            )
    # A pending detach blocks every other concurrent detach of the table: finalize it first.
    plan = [
        (p, "finalize" if p.detach_pending else "plain" if default else "concurrently")
        for p in sorted(partitions, key=lambda p: not p.detach_pending)
        if p.expired(result.cutoff)
    ]
    plan += [(p, "already detached") for p in _orphans(conn, policy) if p.expired(result.cutoff)]
    for p, how in plan:
        retired = Retired(p.name, p.lower, p.upper, how, _kept_name(policy, p.name))
        if not dry_run:
            _retire(conn, policy, retired, result)
        result.retired.append(retired)
    return result


@dataclass(frozen=True)
class DefaultPartition:
    name: str | None  # schema-qualified; None: the table has no default partition (by design)
    rows: int  # capped at DEFAULT_ROWS_CAP


def default_partition(conn: psycopg.Connection, policy: Policy | None = None) -> DefaultPartition:
    """The default partition of the policy's table and its rows: what the one default-partition
    check (defs/partitions/checks.py, run by the partition and the ingest jobs) reads."""
    policy = policy or load_policy()
    _, default = _partitions(conn, policy)
    return DefaultPartition(default, _count_rows(conn, default) if default else 0)


# -- internals ----------------------------------------------------------------------------------


def _partitions(conn: psycopg.Connection, policy: Policy) -> tuple[list[Partition], str | None]:
    """(the non-default partitions ordered by lower bound, the default partition or None)."""
    try:
        rows = conn.execute(_PARTITIONS_SQL, (policy.table,)).fetchall()
    except psycopg.errors.UndefinedTable:
        raise PartitionError(f"{policy.table} does not exist: apply the migrations first") from None
    default = next((name for name, *_, is_default in rows if is_default), None)
    partitions = [Partition(*row[:4]) for row in rows if not row[4]]
    return partitions, default


def _tables(conn: psycopg.Connection, schema: str, pattern: str) -> list[str]:
    return [name for (name,) in conn.execute(_TABLES_SQL, (schema, pattern))]


def _orphans(conn: psycopg.Connection, policy: Policy) -> list[Partition]:
    """Plain tables named like a daily partition: detached by a run that stopped before dropping
    or renaming them. Their bounds come from the day in the name."""
    orphans = []
    for name in _tables(conn, policy.schema, rf"^{policy.name}_p[0-9]{{8}}$"):
        day = datetime.strptime(name[-8:], "%Y%m%d").date()
        orphans.append(Partition(name, midnight(day), midnight(day + timedelta(days=1))))
    return orphans


def _count_rows(conn: psycopg.Connection, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM (SELECT FROM {} LIMIT %s) AS capped").format(
        _ident(table)
    )
    return conn.execute(query, (DEFAULT_ROWS_CAP,)).fetchone()[0]


def _kept_name(policy: Policy, partition: str) -> str | None:
    if policy.on_expiry == "drop":
        return None
    return f"{policy.archive_schema}.{_relname(partition)}_detached"


def _retire(conn: psycopg.Connection, policy: Policy, r: Retired, done: PruneResult) -> None:
    """Detach the partition (unless already detached), then drop it or keep it as `r.kept_as`."""
    parent, child = _ident(policy.table), _ident(r.partition)
    statements = {
        "concurrently": "ALTER TABLE {} DETACH PARTITION {} CONCURRENTLY",
        "finalize": "ALTER TABLE {} DETACH PARTITION {} FINALIZE",
        # A default partition forbids CONCURRENTLY: a short ACCESS EXCLUSIVE lock instead.
        "plain": "ALTER TABLE {} DETACH PARTITION {}",
    }
    if r.detach in statements:
        timeout = policy.lock_timeout_ms if r.detach == "plain" else policy.detach_lock_timeout_ms
        so_far = ", ".join(x.partition for x in done.retired) or "none"
        doing = (
            f"detaching {r.partition} (retired before it: {so_far}; if status shows it detach "
            "pending, the next prune finalizes it)"
        )
        with _lock_timeout(conn, timeout, doing):
            conn.execute(sql.SQL(statements[r.detach]).format(parent, child))
    with (
        _lock_timeout(conn, policy.lock_timeout_ms, f"retiring detached {r.partition}"),
        conn.transaction(),
    ):
        if r.kept_as is None:
            conn.execute(sql.SQL("DROP TABLE {}").format(child))
            return
        if policy.archive_schema != policy.schema:
            archive = sql.Identifier(policy.archive_schema)
            conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(child, archive))
        moved = _ident(f"{policy.archive_schema}.{_relname(r.partition)}")
        kept = sql.Identifier(_relname(r.kept_as))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(moved, kept))
        note = (
            f"Partition of {policy.table} for [{r.lower}, {r.upper}), detached by partition "
            f"maintenance on {done.today} (retention {policy.retention_days} days). "
            "Archive it, then DROP it (docs/runbooks/partitions.md)."
        )
        conn.execute(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(_ident(r.kept_as), sql.Literal(note))
        )


def _relname(qualified: str) -> str:
    return qualified.split(".", 1)[1]


@contextmanager
def _lock_timeout(conn: psycopg.Connection, ms: int, doing: str) -> Iterator[None]:
    """Run DDL with `lock_timeout`, restoring the session's own value afterwards; a lock not
    granted in time becomes a PartitionError that says what was being done."""
    previous = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{ms}ms",))
    try:
        yield
    except psycopg.errors.LockNotAvailable:
        raise PartitionError(f"{doing}: lock not granted within {ms} ms; retry later") from None
    finally:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (previous,))


def _require_autocommit(conn: psycopg.Connection, what: str) -> None:
    if not conn.autocommit:
        raise PartitionError(
            f"{what} needs an autocommit connection (DETACH ... CONCURRENTLY cannot run in a "
            "transaction; each DDL step commits on its own): use lib.partitions.connect()"
        )


def _ident(qualified: str) -> sql.Identifier:
    if not re.fullmatch(r"[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*", qualified):
        raise PartitionError(f"{qualified!r} is not a schema-qualified lower-case name")
    return sql.Identifier(*qualified.split("."))
