"""Migration 202612051020: app.audit_log's append-only triggers fire under
session_replication_role = replica too (issue 9 §6), and bulk loads in replica mode still work."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

ORG = "0c000000-0000-4000-8000-00000000000c"
CHANGES = (
    "UPDATE app.audit_log SET action = 'x.y'",
    "DELETE FROM app.audit_log",
    "TRUNCATE app.audit_log",
)


def audit_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM app.audit_log ORDER BY id").fetchall()


@pytest.mark.parametrize("change", CHANGES)
def test_replica_mode_does_not_bypass_the_append_only_triggers(operational_db_url, change):
    with psycopg.connect(operational_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO app.organizations (id, slug, name) VALUES (%s, 'c', 'C')", (ORG,))
        conn.execute(
            "INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, "
            "target_type) VALUES (%s, 'user', 'someone', 'budget.update', 'budget')",
            (ORG,),
        )
    before = audit_rows(operational_db_url)
    with (
        psycopg.connect(operational_db_url) as conn,
        pytest.raises(errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute("SET session_replication_role = replica")
        conn.execute(change)
    assert audit_rows(operational_db_url) == before


def test_a_bulk_load_in_replica_mode_still_appends(operational_db_url):
    """The project's bulk loads (test seeds, benchmark) set replica mode to skip the
    organizations FK trigger; appending to the log that way keeps working."""
    before = len(audit_rows(operational_db_url))
    with psycopg.connect(operational_db_url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, "
            "target_type) SELECT NULL, 'system', 'loader', 'bulk.load', 'batch' "
            "FROM generate_series(1, 100)"
        )
    assert len(audit_rows(operational_db_url)) == before + 100
