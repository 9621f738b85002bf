"""Seeds: deterministic, idempotent fixtures for a migrated operational database.

    report = seed_database(url)          # or `platformctl seed`, or the Dagster operational_seed asset
    report.tables["users"].inserted      # per-table inserted / existing counts
    report.new_keys                      # dev keys created by THIS run, plaintext shown once

The same fixtures give the same ids everywhere (lib/seeds/ids.py) and a second run changes
nothing. Seeding is an admin operation: it writes every tenant's rows and the global model
registry, so it needs a superuser (or BYPASSRLS) connection, see `seed_database`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import psycopg

from dagster_project.lib.db.postgres import connect, redact
from dagster_project.lib.migrations.config import MigrateConfig, load_config
from dagster_project.lib.migrations.runner import Runner, default_actor
from dagster_project.lib.paths import SEEDS_DIR
from dagster_project.lib.seeds.analytics import load_events, seed_analytics
from dagster_project.lib.seeds.core import DevKey, SeedError, SeedReport, TableCount
from dagster_project.lib.seeds.operational import load_operational, seed_operational

__all__ = ["DevKey", "SeedError", "SeedReport", "TableCount", "require_schema", "seed_database"]

ANALYTICS_EVENTS = "analytics/usage_events.ndjson"


def require_schema(runner: Runner) -> None:
    """Raise a SeedError saying what to run unless the operational schema is fully migrated.
    Seeding never migrates: that is `platformctl migrate up`'s decision."""
    status = runner.status()
    if status.dirty or status.problems:
        raise SeedError(
            f"{redact(runner.url)}: the operational migrations need attention "
            f"({'; '.join(status.dirty + status.problems)}): see `platformctl migrate status`"
        )
    if status.pending:
        raise SeedError(
            f"{redact(runner.url)}: the operational schema is not migrated "
            f"({len(status.pending)} pending migration(s)): run `platformctl migrate up` first"
        )


def seed_database(
    url: str | None = None,
    *,
    analytics: bool = True,
    actor: str | None = None,
    seeds_dir: Path = SEEDS_DIR,
    config: MigrateConfig | None = None,
) -> SeedReport:
    """Insert the missing fixture rows in one transaction (all or nothing) and report counts.

    `url` defaults to the operational target's ($DATABASE_URL), as for `platformctl migrate`.
    """
    fixtures = load_operational(seeds_dir / "operational")  # bad fixtures fail before connecting
    events = load_events(seeds_dir / ANALYTICS_EVENTS) if analytics else []
    # The schema check is not a migration run: no telemetry spans for it.
    config = dataclasses.replace(config or load_config(), telemetry_exporter="none")
    runner = Runner("operational", config=config, url=url)
    conn = connect(runner.url, autocommit=True)  # a refused connection: one typed error
    report = SeedReport()
    with conn:
        _require_admin(conn)  # first: a service role may not even read the migration history
        require_schema(runner)
        with conn.transaction():
            # Partition creation for the analytics days takes a brief ACCESS EXCLUSIVE lock on
            # usage_events: give up rather than queue live ingestion behind us.
            conn.execute("SET LOCAL lock_timeout = '5s'")
            # Concurrent seeds run one after the other, so "does this key exist yet?" is exact.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('platform.seed'))")
            seed_operational(conn, fixtures, report, actor=actor or f"seed:{default_actor()}")
            seed_analytics(conn, events, report)
    return report


def _require_admin(conn: psycopg.Connection) -> None:
    # Every tenant table has FORCE ROW LEVEL SECURITY and its policies admit only the service
    # roles, each confined to one tenant (platform_owner may only read api_keys). Setting
    # app.current_org_id per organization would not change that for an owner connection; a
    # superuser or BYPASSRLS role is exempt from row-level security, and seeding needs exactly
    # that: all tenants plus the global model registry, which no service role may write.
    row = conn.execute(
        "SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if not row or not row[1]:
        raise SeedError(
            f"seeding writes every tenant's rows: connect as a superuser or a BYPASSRLS role, "
            f"not {row[0] if row else 'this role'}"
        )
