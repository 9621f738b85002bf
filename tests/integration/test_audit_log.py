"""audit_log is append-only for everyone, and the migration engine's records land in it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from dagster_project.lib.db.tenant import tenant_transaction
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.runner import Runner

ORG_A = "0a000000-0000-4000-8000-00000000000a"
ORG_B = "0b000000-0000-4000-8000-00000000000b"
SERVICE_ROLES = ("platform_app", "platform_ingest", "platform_analyst")
CHANGES = (
    "UPDATE app.audit_log SET action = 'x.y'",
    "DELETE FROM app.audit_log",
    "TRUNCATE app.audit_log",
)
INSERT = (
    "INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type) "
    "VALUES (%s, 'user', 'someone', 'budget.update', 'budget')"
)


@pytest.fixture(scope="module")
def db(operational_databases) -> Iterator[str]:
    """Shared by the module: every test compares the log before and after, so order does not matter."""
    url = operational_databases.create()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO app.organizations (id, slug, name) VALUES (%s, 'a', 'A'), (%s, 'b', 'B')",
            (ORG_A, ORG_B),
        )
        conn.execute(INSERT, (ORG_A,))
    yield url
    operational_databases.drop(url)


def audit_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM app.audit_log ORDER BY id").fetchall()


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_service_roles_cannot_change_audit_log(db, role_url, role, change):
    before = audit_rows(db)
    with (
        psycopg.connect(role_url(db, role)) as conn,
        pytest.raises(errors.InsufficientPrivilege),
        tenant_transaction(conn, ORG_A),
    ):  # as the tenant that owns the row
        conn.execute(change)
    assert audit_rows(db) == before


@pytest.mark.parametrize("change", CHANGES)
def test_triggers_refuse_even_a_superuser(db, change):
    before = audit_rows(db)
    with (
        psycopg.connect(db) as conn,
        pytest.raises(errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(change)
    assert audit_rows(db) == before


def test_owner_cannot_change_audit_log_either(db):
    """The owner has every privilege, but no policy lets it UPDATE or DELETE (0 rows match) and
    the TRUNCATE trigger refuses it."""
    before = audit_rows(db)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SET ROLE platform_owner")
        assert conn.execute(CHANGES[0]).rowcount == 0
        assert conn.execute(CHANGES[1]).rowcount == 0
        with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
            conn.execute(CHANGES[2])
    assert audit_rows(db) == before


def test_tenant_appends_its_own_records_only(db, role_url):
    with psycopg.connect(role_url(db, "platform_app")) as conn:
        with tenant_transaction(conn, ORG_A):
            before = conn.execute("SELECT count(*) FROM app.audit_log").fetchone()[0]
            conn.execute(INSERT, (ORG_A,))
            # a tenant's view: its own records, none of the platform's (migration) records
            assert conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE organization_id IS NULL) "
                "FROM app.audit_log"
            ).fetchone() == (before + 1, 0)
        for forged in (ORG_B, None):  # another tenant's record, a platform record
            with pytest.raises(errors.InsufficientPrivilege), tenant_transaction(conn, ORG_A):
                conn.execute(INSERT, (forged,))
    for role in ("platform_ingest", "platform_analyst"):
        with (
            psycopg.connect(role_url(db, role)) as conn,
            pytest.raises(errors.InsufficientPrivilege),
            tenant_transaction(conn, ORG_A),
        ):
            conn.execute(INSERT, (ORG_A,))


def test_service_roles_cannot_forge_migration_records(db, role_url):
    for role in SERVICE_ROLES:
        with (
            psycopg.connect(role_url(db, role)) as conn,
            pytest.raises(errors.InsufficientPrivilege),
        ):
            conn.execute(
                "SELECT public.record_migration_audit('me', 'apply', 'operational', '1', '{}')"
            )


def test_migration_audit_records_land_in_audit_log(operational_db_url):
    db = operational_db_url
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    runner = Runner("operational", config=config, url=db, actor="audit-test@host")
    newest = runner.migrations()[-1].version
    runner.down(steps=1)
    runner.up()

    with psycopg.connect(db) as conn:
        records = conn.execute(
            "SELECT organization_id, actor_type, actor_id, action, target_type, target_id, metadata->>'slug' "
            "FROM app.audit_log WHERE actor_id = 'audit-test@host' ORDER BY id"
        ).fetchall()
        template_records = conn.execute(
            "SELECT count(*) FROM app.audit_log WHERE action = 'migration.apply' AND actor_id = 'test-template'"
        ).fetchone()[0]
    slug = runner.migrations()[-1].slug
    assert records == [
        (
            None,
            "system",
            "audit-test@host",
            "migration.rollback",
            "migration",
            f"operational:{newest}",
            slug,
        ),
        (
            None,
            "system",
            "audit-test@host",
            "migration.apply",
            "migration",
            f"operational:{newest}",
            slug,
        ),
    ]
    assert template_records >= 1  # the template's own migrations after audit_log existed
