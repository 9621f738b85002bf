"""The query contract: the queries services run against the database, one SQL file each.

    from dagster_project.lib.queries import operational
    with tenant_transaction(conn, org_id):
        rows = conn.execute(operational("org_usage"), {"organization_id": org_id, ...}).fetchall()

Files live in `<group>/<name>.sql` beside this module, with psycopg `%(name)s` parameters; each
file's header says who runs it, its parameters, bounds and index. docs/query-contract.md
documents the plans and the measured latencies; tests/integration/test_query_contract.py checks
the plans.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dagster_project.lib.sqlfiles import read_sql

OPERATIONAL = (
    "key_lookup",
    "membership_check",
    "org_usage",
    "key_latest_events",
    "budget_consumption",
)


def load(group: str, name: str) -> str:
    """The SQL text of query `name` of `group` (e.g. "operational")."""
    try:
        return read_sql(__name__, f"{name}.sql", folder=group)
    except FileNotFoundError:
        raise KeyError(f"no query {group}/{name}.sql") from None


def operational(name: str) -> str:
    """The SQL text of an operational contract query, one of OPERATIONAL."""
    return load("operational", name)


def budget_periods(at: datetime) -> dict[str, datetime]:
    """The budget_consumption period parameters for instant `at`: UTC day and month starts."""
    at = at.astimezone(UTC)
    day_start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"month_start": day_start.replace(day=1), "day_start": day_start, "until": at}
