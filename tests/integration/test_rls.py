"""Tenant isolation of the operational schema, tested as the service roles themselves.

The matrix: every tenant table x every service role x SELECT/INSERT/UPDATE/DELETE, run as
tenant A against tenant B's rows, must see/affect 0 rows or be refused (SQLSTATE 42501: no
privilege, or a row-level security violation; any other error fails the test, so a broken
statement cannot pass for a refused one). The list of tenant tables comes from the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import errors

from dagster_project.lib.db.tenant import tenant_transaction

ORG_A = "0a000000-0000-4000-8000-00000000000a"
ORG_B = "0b000000-0000-4000-8000-00000000000b"
USER_A = "0a000000-0000-4000-8000-0000000000a1"
USER_B = "0b000000-0000-4000-8000-0000000000b1"
MODEL = "0c000000-0000-4000-8000-0000000000c1"
SERVICE_ROLES = ("platform_app", "platform_ingest", "platform_analyst")
# Not tenant data: the same for every organization, readable by all, written only by the owner.
GLOBAL_TABLES = {"model_registry", "model_prices"}

SEED = f"""
INSERT INTO app.organizations (id, slug, name) VALUES ('{ORG_A}', 'org-a', 'A'), ('{ORG_B}', 'org-b', 'B');
INSERT INTO app.users (id, email) VALUES ('{USER_A}', 'a@example.com'), ('{USER_B}', 'b@example.com');
INSERT INTO app.memberships VALUES ('{ORG_A}', '{USER_A}', 'owner'), ('{ORG_B}', '{USER_B}', 'owner');
INSERT INTO app.model_registry (id, provider, model_name, version, context_window)
    VALUES ('{MODEL}', 'openai', 'gpt-4o', '2024-08-06', 128000);
INSERT INTO app.model_prices VALUES ('{MODEL}', now() - interval '30 days', NULL, 2.5, 10);
INSERT INTO app.api_keys (organization_id, name, key_prefix, key_hash, scopes, created_by)
    VALUES ('{ORG_A}', 'a key', 'plk_aaaa', sha256('key a'), '{{usage:write}}', '{USER_A}'),
           ('{ORG_B}', 'b key', 'plk_bbbb', sha256('key b'), '{{usage:write}}', '{USER_B}');
INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type)
    VALUES ('{ORG_A}', 'user', '{USER_A}', 'api_key.create', 'api_key'),
           ('{ORG_B}', 'user', '{USER_B}', 'api_key.create', 'api_key');
INSERT INTO app.usage_events (organization_id, event_id, occurred_at, model_id, operation,
                              input_tokens, output_tokens, latency_ms, status, cost_usd)
    VALUES ('{ORG_A}', 'ev-a', now(), '{MODEL}', 'chat', 10, 20, 300, 'success', 0.000225),
           ('{ORG_B}', 'ev-b', now(), '{MODEL}', 'chat', 10, 20, 300, 'success', 0.000225);
INSERT INTO app.budgets (organization_id, period, token_limit)
    VALUES ('{ORG_A}', 'month', 1000000), ('{ORG_B}', 'month', 1000000);
"""


@dataclass(frozen=True)
class Spec:
    b_rows: str  # WHERE clause selecting tenant B's row(s)
    insert_b: str  # an INSERT of a row that belongs to B (or, for users, rewrites B's user)
    touch: str  # an assignment for UPDATE that changes nothing


SPECS: dict[str, Spec] = {
    "organizations": Spec(
        f"id = '{ORG_B}'",
        f"INSERT INTO app.organizations (id, slug, name) VALUES ('{ORG_B}', 'org-b2', 'B2')",
        "name = name",
    ),
    # users are global; a tenant must still not reach B's user, e.g. through an upsert.
    "users": Spec(
        f"id = '{USER_B}'",
        "INSERT INTO app.users (id, email) VALUES (gen_random_uuid(), 'b@example.com') "
        "ON CONFLICT (email) DO UPDATE SET display_name = 'taken over'",
        "display_name = display_name",
    ),
    "memberships": Spec(
        f"organization_id = '{ORG_B}'",
        f"INSERT INTO app.memberships VALUES ('{ORG_B}', '{USER_A}', 'admin')",
        "role = role",
    ),
    "api_keys": Spec(
        f"organization_id = '{ORG_B}'",
        "INSERT INTO app.api_keys (organization_id, name, key_prefix, key_hash, scopes) "
        f"VALUES ('{ORG_B}', 'planted', 'plk_cccc', sha256('key c'), '{{usage:write}}')",
        "name = name",
    ),
    "audit_log": Spec(
        f"organization_id = '{ORG_B}'",
        "INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type) "
        f"VALUES ('{ORG_B}', 'user', '{USER_A}', 'api_key.delete', 'api_key')",
        "action = action",
    ),
    "usage_events": Spec(
        f"organization_id = '{ORG_B}'",
        "INSERT INTO app.usage_events (organization_id, event_id, occurred_at, model_id, operation, "
        "input_tokens, output_tokens, latency_ms, status, cost_usd) "
        f"VALUES ('{ORG_B}', 'ev-forged', now(), '{MODEL}', 'chat', 1, 1, 1, 'success', 0)",
        "status = status",
    ),
    "budgets": Spec(
        f"organization_id = '{ORG_B}'",
        f"INSERT INTO app.budgets (organization_id, period, token_limit) VALUES ('{ORG_B}', 'day', 1)",
        "period = period",
    ),
    # Rollups: written only by the trigger on usage_events (SEED's events made B's rows); no
    # service role may write them at all, for any tenant.
    "usage_hourly": Spec(
        f"organization_id = '{ORG_B}'",
        "INSERT INTO app.usage_hourly (organization_id, hour, model_id, requests, errors, "
        "input_tokens, output_tokens, cost_usd) "
        f"VALUES ('{ORG_B}', date_trunc('hour', now(), 'UTC') + interval '1 hour', '{MODEL}', "
        "1, 0, 1, 1, 0)",
        "requests = requests",
    ),
    "usage_daily": Spec(
        f"organization_id = '{ORG_B}'",
        "INSERT INTO app.usage_daily (organization_id, day, model_id, requests, errors, "
        "input_tokens, output_tokens, cost_usd) "
        f"VALUES ('{ORG_B}', current_date + 1, '{MODEL}', 1, 0, 1, 1, 0)",
        "requests = requests",
    ),
}
# Maintained by the database (trigger on usage_events): no service role writes them, even for
# its own tenant.
ROLLUPS = {"usage_hourly", "usage_daily"}

TENANT_TABLES_SQL = """
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
               AND a.attname = 'organization_id' AND NOT a.attisdropped) AS has_org
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY 1
"""


@pytest.fixture(scope="module")
def db(operational_databases) -> Iterator[str]:
    """One seeded database for the module: every statement below runs in a rolled-back transaction."""
    url = operational_databases.create()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED)
    yield url
    operational_databases.drop(url)


def run_as(url: str, org: str | None, statement: str) -> int | str:
    """Rows seen (SELECT count) or affected, or 'refused'; always rolled back."""
    with psycopg.connect(url) as conn:
        try:
            with conn.transaction() if org is None else tenant_transaction(conn, org):
                result = _run(conn, statement)
                raise psycopg.Rollback
        except errors.InsufficientPrivilege:
            return "refused"
    return result


def _run(conn: psycopg.Connection, statement: str) -> int:
    cursor = conn.execute(statement)
    return cursor.fetchone()[0] if statement.startswith("SELECT count") else cursor.rowcount


def statement_for(table: str, operation: str) -> str:
    spec = SPECS[table]
    return {
        "SELECT": f"SELECT count(*) FROM app.{table} WHERE {spec.b_rows}",
        "INSERT": spec.insert_b,
        "UPDATE": f"UPDATE app.{table} SET {spec.touch} WHERE {spec.b_rows}",
        "DELETE": f"DELETE FROM app.{table} WHERE {spec.b_rows}",
    }[operation]


def tenant_tables(url: str) -> dict[str, tuple[bool, bool, bool]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(TENANT_TABLES_SQL).fetchall()
    return {
        name: (rls, force, has_org)
        for name, rls, force, has_org in rows
        if name not in GLOBAL_TABLES
    }


# -- catalog ------------------------------------------------------------------------------------


def test_every_tenant_table_has_rls_enabled_and_forced_and_is_in_the_matrix(db):
    tables = tenant_tables(db)
    not_forced = [name for name, (rls, force, _) in tables.items() if not (rls and force)]
    assert not_forced == []
    assert set(tables) == set(SPECS), (
        "a new app table needs RLS and a row in SPECS (or GLOBAL_TABLES)"
    )
    # and every table that names an organization is one of them (global tables cannot)
    with psycopg.connect(db) as conn:
        global_with_org = conn.execute(
            "SELECT relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.relnamespace = 'app'::regnamespace AND a.attname = 'organization_id' "
            "AND c.relname = ANY(%s)",
            (sorted(GLOBAL_TABLES),),
        ).fetchall()
    assert global_with_org == []


def test_service_roles_are_plain_logins_that_own_nothing(db):
    with psycopg.connect(db) as conn:
        roles = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin "
            "FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1",
            (list(SERVICE_ROLES),),
        ).fetchall()
        owned = conn.execute(
            """SELECT r.rolname, count(*) FROM pg_roles r JOIN (
                   SELECT relowner AS owner FROM pg_class UNION ALL SELECT proowner FROM pg_proc
                   UNION ALL SELECT nspowner FROM pg_namespace UNION ALL SELECT typowner FROM pg_type
               ) o ON o.owner = r.oid WHERE r.rolname = ANY(%s) GROUP BY 1""",
            (list(SERVICE_ROLES),),
        ).fetchall()
        owner = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'platform_owner'"
        ).fetchone()
        foreign_owned = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'app'::regnamespace "
            "AND relowner <> 'platform_owner'::regrole"
        ).fetchall()
    assert roles == [(name, False, False, False, False, True) for name in sorted(SERVICE_ROLES)]
    assert owned == []
    assert owner == (False, False, False)
    assert foreign_owned == []  # partitions and indexes included


# -- the matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["SELECT", "INSERT", "UPDATE", "DELETE"])
@pytest.mark.parametrize("role", SERVICE_ROLES)
@pytest.mark.parametrize("table", sorted(SPECS))
def test_tenant_a_cannot_reach_tenant_b(db, role_url, table, role, operation):
    result = run_as(role_url(db, role), ORG_A, statement_for(table, operation))
    if operation == "INSERT":
        assert result == "refused"  # a row for B (or B's user) must never be written as A
    else:
        assert result in (0, "refused")


@pytest.mark.parametrize("table", sorted(SPECS))
def test_matrix_statements_do_reach_b_as_b(db, role_url, table):
    """Control: the same SELECT and UPDATE find B's rows as B, so 0 above means isolation."""
    url = role_url(db, "platform_app")
    assert run_as(url, ORG_B, statement_for(table, "SELECT")) >= 1
    if table not in {"audit_log", "usage_events"} | ROLLUPS:  # append-only / ingest / trigger
        assert run_as(url, ORG_B, statement_for(table, "UPDATE")) >= 1


@pytest.mark.parametrize("operation", ["INSERT", "UPDATE", "DELETE"])
@pytest.mark.parametrize("role", SERVICE_ROLES)
@pytest.mark.parametrize("table", sorted(ROLLUPS))
def test_rollups_are_read_only_even_for_their_own_tenant(db, role_url, table, role, operation):
    """B's own rows, as B: refused (no write grant); only the trigger on usage_events writes."""
    assert run_as(role_url(db, role), ORG_B, statement_for(table, operation)) == "refused"


@pytest.mark.parametrize("role", SERVICE_ROLES)
@pytest.mark.parametrize("table", sorted(SPECS))
def test_no_tenant_set_sees_nothing(db, role_url, table, role):
    assert run_as(role_url(db, role), None, f"SELECT count(*) FROM app.{table}") in (0, "refused")


@pytest.mark.parametrize("table", ["organizations", "memberships", "api_keys", "budgets"])
def test_a_cannot_move_its_own_row_to_b(db, role_url, table):
    column = "id" if table == "organizations" else "organization_id"
    statement = f"UPDATE app.{table} SET {column} = '{ORG_B}' WHERE {column} = '{ORG_A}'"
    assert run_as(role_url(db, "platform_app"), ORG_A, statement) == "refused"  # WITH CHECK


def test_tenant_sees_only_its_own_rows(db, role_url):
    with psycopg.connect(role_url(db, "platform_app")) as conn, tenant_transaction(conn, ORG_A):
        for table in sorted(SPECS):
            column = {"organizations": "id", "users": "id"}.get(table, "organization_id")
            expected = {"users": USER_A}.get(table, ORG_A)
            seen = {
                row[0] for row in conn.execute(f"SELECT DISTINCT {column}::text FROM app.{table}")
            }
            assert seen == {expected}, table


def test_partitions_cannot_be_read_directly(db, role_url):
    """A partition has none of its parent's policies: only the parent may be granted."""
    with psycopg.connect(db) as conn:
        partition = conn.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits "
            "WHERE inhparent = 'app.usage_events'::regclass LIMIT 1"
        ).fetchone()[0]
    for role in SERVICE_ROLES:
        assert run_as(role_url(db, role), ORG_A, f"SELECT count(*) FROM {partition}") == "refused"


# -- the tenant transaction helper --------------------------------------------------------------


def test_connection_reused_after_a_tenant_transaction_carries_no_tenant(db, role_url):
    with psycopg.connect(role_url(db, "platform_app")) as conn:
        with tenant_transaction(conn, ORG_A):
            assert conn.execute("SELECT count(*) FROM app.memberships").fetchone()[0] == 1
        assert conn.execute("SELECT app.current_org_id()").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM app.memberships").fetchone()[0] == 0
        conn.rollback()
        with pytest.raises(ZeroDivisionError), tenant_transaction(conn, ORG_B):
            1 / 0  # noqa: B018 - an error inside the block rolls back and clears the tenant too
        assert conn.execute("SELECT count(*) FROM app.api_keys").fetchone()[0] == 0


def test_tenant_transaction_refuses_a_connection_inside_a_transaction(db, role_url):
    with psycopg.connect(role_url(db, "platform_app")) as conn:
        conn.execute("SELECT 1")  # opens a transaction (autocommit off)
        with pytest.raises(RuntimeError, match="idle connection"), tenant_transaction(conn, ORG_A):
            pass
        with pytest.raises(ValueError), tenant_transaction(conn, "not-a-uuid"):
            pass


def test_api_key_lookup_by_hash_works_before_the_tenant_is_known(db, role_url):
    for role in ("platform_app", "platform_ingest"):
        with psycopg.connect(role_url(db, role)) as conn:
            found = conn.execute(
                "SELECT organization_id::text FROM app.lookup_api_key(sha256('key b'))"
            ).fetchall()
            assert found == [(ORG_B,)]
            assert (
                conn.execute("SELECT count(*) FROM app.lookup_api_key(sha256('nope'))").fetchone()[
                    0
                ]
                == 0
            )
    with (
        psycopg.connect(role_url(db, "platform_analyst")) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT * FROM app.lookup_api_key(sha256('key b'))")
