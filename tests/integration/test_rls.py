"""Tenant isolation of the operational schema, tested as the service roles themselves.

The matrix: every tenant table x every service role x SELECT/INSERT/UPDATE/DELETE, run as
tenant A against tenant B's rows, must see/affect 0 rows or be refused (SQLSTATE 42501: no
privilege, or a row-level security violation; any other error fails the test, so a broken
statement cannot pass for a refused one). The list of tenant tables comes from the catalog.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import errors

from dagster_project.lib.db.tenant import tenant_transaction
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.runner import Runner

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
                              input_tokens, output_tokens, latency_ms, status, cost_usd, price_id,
                              input_cost_usd)
    VALUES ('{ORG_A}', 'ev-a', now(), '{MODEL}', 'chat', 10, 20, 300, 'success', 0.000225, 0, 0.000225),
           ('{ORG_B}', 'ev-b', now(), '{MODEL}', 'chat', 10, 20, 300, 'success', 0.000225, 0, 0.000225);
INSERT INTO app.budgets (organization_id, period, token_limit)
    VALUES ('{ORG_A}', 'month', 1000000), ('{ORG_B}', 'month', 1000000);
INSERT INTO app.invitations (organization_id, email, role, token_hash, invited_by, expires_at)
    VALUES ('{ORG_A}', 'x@example.com', 'member', sha256('inv a'), '{USER_A}', now() + interval '1 day'),
           ('{ORG_B}', 'y@example.com', 'member', sha256('inv b'), '{USER_B}', now() + interval '1 day');
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
    "invitations": Spec(
        f"organization_id = '{ORG_B}'",
        "INSERT INTO app.invitations (organization_id, email, role, token_hash, expires_at) "
        f"VALUES ('{ORG_B}', 'z@example.com', 'owner', sha256('planted'), now() + interval '1 day')",
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
        "input_tokens, output_tokens, latency_ms, status, cost_usd, price_id) "
        f"VALUES ('{ORG_B}', 'ev-forged', now(), '{MODEL}', 'chat', 1, 1, 1, 'success', 0, 0)",
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
# Written only through the membership functions (202612051030): no UPDATE for any tenant.
NOT_UPDATABLE = {"audit_log", "usage_events", "users", "invitations"} | ROLLUPS

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
    if table not in NOT_UPDATABLE:  # append-only / ingest / trigger / identity
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


@pytest.mark.parametrize("operation", ["INSERT", "UPDATE", "DELETE"])
@pytest.mark.parametrize("table", ["users", "invitations"])
def test_identities_and_invitations_are_written_only_through_the_functions(
    db, role_url, table, operation
):
    """B's own user and invitation, as B: refused (no write grant at all for a tenant)."""
    assert run_as(role_url(db, "platform_app"), ORG_B, statement_for(table, operation)) == "refused"


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


# -- users across tenants (issue 9, section 5) --------------------------------------------------
# The attack: as tenant A, add B's user to A, read and rewrite their email, remove the
# membership again. Joining now needs the user's consent (an invitation they accept) or a
# brand-new user; identity fields have no tenant write path; refusals tell nothing about other
# tenants. The membership functions are in migrations/operational/202612051030_*.

UNKNOWN_USER = "0d000000-0000-4000-8000-0000000000d1"  # exists nowhere
NEW_TENANT_FUNCTIONS = (
    "app.invite_user(uuid, text, text)",
    "app.accept_invitation(text, text)",
    "app.create_user(uuid, text, text, text)",
    "app.remove_member(uuid, uuid)",
)


def error_text(exc: psycopg.Error) -> str:
    """Everything a client sees of an error: message, detail, hint, context, the whole str."""
    diag = exc.diag
    parts = [str(exc), diag.message_primary, diag.message_detail, diag.message_hint, diag.context]
    return "\n".join(p for p in parts if p).lower()


def refusal(url: str, org: str | None, statement: str, params: tuple = ()) -> psycopg.Error:
    """The error `statement` raises (it must raise), in a rolled-back transaction."""
    with psycopg.connect(url) as conn:
        block = conn.transaction() if org is None else tenant_transaction(conn, org)
        with pytest.raises(psycopg.Error) as raised, block:
            conn.execute(statement, params)
    return raised.value


def assert_no_leak(exc: psycopg.Error, *secrets: str) -> None:
    text = error_text(exc)
    assert exc.diag.message_detail is None, text
    for secret in secrets:
        assert secret.lower() not in text, f"{secret} leaked in: {text}"


def same_answer(a: psycopg.Error, b: psycopg.Error) -> tuple:
    return (a.sqlstate, a.diag.message_primary, a.diag.message_detail) == (
        b.sqlstate,
        b.diag.message_primary,
        b.diag.message_detail,
    )


@pytest.fixture
def fresh(operational_db_url) -> str:
    """A seeded database of its own, for flows that commit."""
    with psycopg.connect(operational_db_url, autocommit=True) as conn:
        conn.execute(SEED)
    return operational_db_url


def test_a_cannot_capture_b_user(db, role_url):
    """The reported attack, step by step: every step is refused, none names B's user."""
    url = role_url(db, "platform_app")
    secrets = (USER_B, "b@example.com")
    capture = refusal(
        url, ORG_A, f"INSERT INTO app.memberships VALUES ('{ORG_A}', '{USER_B}', 'member')"
    )
    assert isinstance(capture, errors.InsufficientPrivilege)
    assert_no_leak(capture, *secrets)
    rewrite = f"UPDATE app.users SET email = 'mine@example.com' WHERE id = '{USER_B}'"
    assert run_as(url, ORG_A, rewrite) == "refused"
    assert run_as(url, ORG_A, f"SELECT count(*) FROM app.users WHERE id = '{USER_B}'") == 0
    removal = refusal(url, ORG_A, "SELECT app.remove_member(%s, %s)", (USER_A, USER_B))
    assert isinstance(removal, errors.NoDataFound)
    assert_no_leak(removal, *secrets)
    # and A cannot take B's membership away from B either
    assert (
        run_as(url, ORG_A, f"DELETE FROM app.memberships WHERE user_id = '{USER_B}'") == "refused"
    )
    with psycopg.connect(db) as conn:
        assert conn.execute(
            "SELECT organization_id::text, role FROM app.memberships WHERE user_id = %s", (USER_B,)
        ).fetchall() == [(ORG_B, "owner")]


@pytest.mark.parametrize(
    "statement",
    [
        f"INSERT INTO app.memberships VALUES ('{ORG_A}', %s, 'member')",
        "SELECT app.remove_member('" + USER_A + "', %s)",
        "SELECT app.invite_user(%s, 'someone@example.com', 'member')",  # as the actor
    ],
    ids=["insert-membership", "remove-member", "invite-as-actor"],
)
def test_errors_do_not_tell_whether_a_user_id_exists(db, role_url, statement):
    """B's user and a user that exists nowhere get exactly the same answer."""
    url = role_url(db, "platform_app")
    b_user = refusal(url, ORG_A, statement, (USER_B,))
    nobody = refusal(url, ORG_A, statement, (UNKNOWN_USER,))
    assert same_answer(b_user, nobody), (error_text(b_user), error_text(nobody))
    assert_no_leak(b_user, USER_B, "b@example.com")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO app.users (id, email) VALUES (gen_random_uuid(), %s)",
        f"SELECT app.create_user('{USER_A}', %s, 'Someone', 'member')",
    ],
    ids=["direct-insert", "create-user"],
)
@pytest.mark.parametrize("email", ["b@example.com", " B@Example.COM "])
def test_email_conflicts_do_not_show_another_tenants_address(db, role_url, statement, email):
    exc = refusal(role_url(db, "platform_app"), ORG_A, statement, (email,))
    assert isinstance(exc, errors.InsufficientPrivilege | errors.UniqueViolation)
    assert_no_leak(exc, "b@example.com", USER_B)


@pytest.mark.parametrize("column", ["email", "display_name"])
def test_a_tenant_cannot_change_identity_fields_even_of_its_own_members(db, role_url, column):
    statement = f"UPDATE app.users SET {column} = 'x@example.com' WHERE id = '{USER_A}'"
    assert run_as(role_url(db, "platform_app"), ORG_A, statement) == "refused"


@pytest.mark.parametrize(
    ("actor", "role"),
    [
        (USER_B, "member"),  # another tenant's owner
        (UNKNOWN_USER, "member"),  # nobody
        ("0a000000-0000-4000-8000-0000000000a2", "member"),  # A's viewer (SEED below adds it)
        ("0a000000-0000-4000-8000-0000000000a3", "owner"),  # A's admin making an owner
    ],
    ids=["other-tenant-owner", "nobody", "viewer", "admin-grants-owner"],
)
def test_only_owners_and_admins_add_members(fresh, role_url, actor, role):
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO app.users (id, email) VALUES "
            "('0a000000-0000-4000-8000-0000000000a2', 'viewer@example.com'), "
            "('0a000000-0000-4000-8000-0000000000a3', 'admin@example.com');"
            f"INSERT INTO app.memberships VALUES ('{ORG_A}', '0a000000-0000-4000-8000-0000000000a2', 'viewer'),"
            f" ('{ORG_A}', '0a000000-0000-4000-8000-0000000000a3', 'admin')"
        )
    url = role_url(fresh, "platform_app")
    for statement in (
        "SELECT app.invite_user(%s, 'new@example.com', %s)",
        "SELECT app.create_user(%s, 'new@example.com', 'New', %s)",
    ):
        exc = refusal(url, ORG_A, statement, (actor, role))
        assert isinstance(exc, errors.InsufficientPrivilege), error_text(exc)
        assert_no_leak(exc, USER_B, "b@example.com")
    # no tenant set: refused too, whoever the actor
    exc = refusal(url, None, "SELECT app.invite_user(%s, 'new@example.com', 'member')", (USER_A,))
    assert isinstance(exc, errors.InsufficientPrivilege)


@pytest.mark.parametrize("role", ["platform_ingest", "platform_analyst"])
@pytest.mark.parametrize("function", NEW_TENANT_FUNCTIONS)
def test_other_service_roles_cannot_call_the_membership_functions(db, role_url, role, function):
    with psycopg.connect(role_url(db, role)) as conn:
        assert not conn.execute(
            "SELECT has_function_privilege(%s, 'EXECUTE')", (function,)
        ).fetchone()[0]


def test_security_definer_functions_pin_their_search_path_and_are_not_public(db):
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            """SELECT p.oid::regprocedure::text, p.proconfig, p.proowner::regrole::text,
                      has_function_privilege('public', p.oid, 'EXECUTE')
               FROM pg_proc p WHERE p.prosecdef
                 AND p.pronamespace IN ('app'::regnamespace, 'public'::regnamespace)"""
        ).fetchall()
    names = {name for name, *_ in rows}
    assert {f.replace(", ", ",") for f in NEW_TENANT_FUNCTIONS} <= names
    for name, config, owner, public in rows:
        assert config == ["search_path=pg_catalog, pg_temp"], name
        assert owner == "platform_owner", name
        assert not public, name


def test_invite_and_accept_adds_an_existing_user_with_consent(fresh, role_url):
    url = role_url(fresh, "platform_app")
    with psycopg.connect(url) as conn:
        with tenant_transaction(conn, ORG_A):
            invitation_id, token, _ = conn.execute(
                "SELECT * FROM app.invite_user(%s, ' B@Example.com', 'member')", (USER_A,)
            ).fetchone()
        with tenant_transaction(conn, ORG_A):  # not a member before accepting
            assert conn.execute(
                "SELECT count(*) FROM app.users WHERE id = %s", (USER_B,)
            ).fetchone() == (0,)
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("SELECT token_hash FROM app.invitations")
        # The invitee, no tenant: the token is their consent. Their name stays theirs.
        with conn.transaction():
            joined = conn.execute(
                "SELECT organization_id::text, user_id::text FROM app.accept_invitation(%s, 'Renamed')",
                (token,),
            ).fetchall()
        assert joined == [(ORG_A, USER_B)]
        with tenant_transaction(conn, ORG_A):
            assert conn.execute(
                "SELECT u.email, u.display_name, m.role FROM app.users u "
                "JOIN app.memberships m ON m.user_id = u.id WHERE u.id = %s",
                (USER_B,),
            ).fetchall() == [("b@example.com", None, "member")]
            audit = conn.execute(
                "SELECT actor_id, action, target_id FROM app.audit_log "
                "WHERE target_type = 'invitation' ORDER BY id"
            ).fetchall()
        assert audit == [
            (USER_A, "invitation.create", str(invitation_id)),
            (USER_B, "invitation.accept", str(invitation_id)),
        ]
        # a used token is spent
        with pytest.raises(errors.NoDataFound), conn.transaction():
            conn.execute("SELECT app.accept_invitation(%s)", (token,))
    with psycopg.connect(fresh) as conn:
        stored = conn.execute(
            "SELECT token_hash = sha256(convert_to(%s, 'UTF8')), accepted_by::text "
            "FROM app.invitations WHERE id = %s",
            (token, invitation_id),
        ).fetchone()
        assert stored == (True, USER_B)
        # B's own membership and B's audit trail are untouched
        assert conn.execute(
            "SELECT count(*) FROM app.audit_log WHERE organization_id = %s", (ORG_B,)
        ).fetchone() == (1,)


def test_accepting_an_invitation_for_a_new_email_creates_the_user(fresh, role_url):
    with psycopg.connect(role_url(fresh, "platform_app")) as conn:
        with tenant_transaction(conn, ORG_A):
            token = conn.execute(
                "SELECT token FROM app.invite_user(%s, 'new@example.com', 'viewer')", (USER_A,)
            ).fetchone()[0]
        with (
            pytest.raises(errors.InvalidParameterValue, match="display name"),
            conn.transaction(),
        ):
            conn.execute("SELECT app.accept_invitation(%s, '   ')", (token,))
        with conn.transaction():  # the refused attempt did not spend the token
            user_id = conn.execute(
                "SELECT user_id FROM app.accept_invitation(%s, ' New Person ')", (token,)
            ).fetchone()[0]
        with tenant_transaction(conn, ORG_A):
            assert conn.execute(
                "SELECT u.email, u.display_name, m.role FROM app.users u "
                "JOIN app.memberships m ON m.user_id = u.id WHERE u.id = %s",
                (user_id,),
            ).fetchall() == [("new@example.com", "New Person", "viewer")]


def test_unknown_used_and_expired_tokens_get_the_same_answer(fresh, role_url):
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute(
            "UPDATE app.invitations SET created_at = now() - interval '9 days', "
            "expires_at = now() - interval '2 days' WHERE token_hash = sha256('inv b')"
        )
    url = role_url(fresh, "platform_app")
    accept = "SELECT app.accept_invitation(%s)"
    expired = refusal(url, None, accept, ("inv b",))
    unknown = refusal(url, None, accept, ("inv_" + "0" * 64,))
    assert isinstance(unknown, errors.NoDataFound)
    assert same_answer(expired, unknown)
    assert_no_leak(expired, "y@example.com", ORG_B)


def test_create_user_adds_a_brand_new_person_to_the_own_organization(fresh, role_url):
    with psycopg.connect(role_url(fresh, "platform_app")) as conn:
        with tenant_transaction(conn, ORG_A):
            user_id = conn.execute(
                "SELECT app.create_user(%s, ' Fresh@Example.com', 'Fresh', 'member')", (USER_A,)
            ).fetchone()[0]
        with tenant_transaction(conn, ORG_A):
            assert conn.execute(
                "SELECT u.email, u.display_name, m.role FROM app.users u "
                "JOIN app.memberships m ON m.user_id = u.id WHERE u.id = %s",
                (user_id,),
            ).fetchall() == [("fresh@example.com", "Fresh", "member")]
            assert conn.execute(
                "SELECT actor_id, action FROM app.audit_log WHERE target_id = %s", (str(user_id),)
            ).fetchall() == [(USER_A, "user.create")]
        with tenant_transaction(conn, ORG_B):  # not B's
            assert conn.execute(
                "SELECT count(*) FROM app.users WHERE id = %s", (user_id,)
            ).fetchone() == (0,)
        # bad input: one clear line
        with (
            pytest.raises(errors.InvalidParameterValue, match="not a valid email"),
            tenant_transaction(conn, ORG_A),
        ):
            conn.execute("SELECT app.create_user(%s, 'no-at-sign', 'X', 'member')", (USER_A,))
        with (
            pytest.raises(errors.InvalidParameterValue, match="display name"),
            tenant_transaction(conn, ORG_A),
        ):
            conn.execute("SELECT app.create_user(%s, 'ok@example.com', '', 'member')", (USER_A,))


def test_removing_members_of_the_own_organization(fresh, role_url):
    with psycopg.connect(role_url(fresh, "platform_app")) as conn:
        with tenant_transaction(conn, ORG_A):
            member = conn.execute(
                "SELECT app.create_user(%s, 'm@example.com', 'M', 'member')", (USER_A,)
            ).fetchone()[0]
            leaver = conn.execute(
                "SELECT app.create_user(%s, 'l@example.com', 'L', 'member')", (USER_A,)
            ).fetchone()[0]
        with tenant_transaction(conn, ORG_A):
            conn.execute("SELECT app.remove_member(%s, %s)", (USER_A, member))
            conn.execute("SELECT app.remove_member(%s, %s)", (leaver, leaver))  # leaving
        with (
            pytest.raises(errors.InsufficientPrivilege, match="last owner"),
            tenant_transaction(conn, ORG_A),
        ):
            conn.execute("SELECT app.remove_member(%s, %s)", (USER_A, USER_A))
        with tenant_transaction(conn, ORG_A):
            assert conn.execute("SELECT user_id::text FROM app.memberships").fetchall() == [
                (USER_A,)
            ]
            assert conn.execute(
                "SELECT actor_id, action, target_id FROM app.audit_log "
                "WHERE action = 'membership.delete' ORDER BY id"
            ).fetchall() == [
                (USER_A, "membership.delete", str(member)),
                (str(leaver), "membership.delete", str(leaver)),
            ]
            # a member keeps their role changes in the tenant (column grant), nothing else
            assert (
                conn.execute(
                    f"UPDATE app.memberships SET role = 'owner' WHERE user_id = '{USER_A}'"
                ).rowcount
                == 1
            )


def test_the_down_migration_restores_direct_writes_and_up_removes_them_again(fresh, role_url):
    """202612051030's down file gives platform_app back what it had (insert a user and a
    membership in its tenant, edit the user); up takes it away again."""
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    runner = Runner("operational", config=config, url=fresh, actor="rls-test@host")
    later = [m for m in runner.migrations() if m.version >= "202612051030"]
    url = role_url(fresh, "platform_app")
    new_user = "0a000000-0000-4000-8000-0000000000a9"
    direct = (
        f"INSERT INTO app.users (id, email) VALUES ('{new_user}', 'direct@example.com');"
        f"INSERT INTO app.memberships VALUES ('{ORG_A}', '{new_user}', 'member');"
        f"UPDATE app.users SET display_name = 'Direct' WHERE id = '{new_user}'"
    )
    runner.down(steps=len(later))
    assert run_as(url, ORG_A, direct) == 1
    with psycopg.connect(fresh) as conn:
        assert conn.execute("SELECT to_regclass('app.invitations')").fetchone() == (None,)
    runner.up()
    assert run_as(url, ORG_A, direct) == "refused"


@settings(max_examples=25, deadline=None)
@given(
    upper=st.lists(st.booleans(), min_size=13, max_size=13),
    pad=st.sampled_from(["", " ", "\t", " \r\n"]),
    guessed=st.uuids(version=4),
)
def test_no_spelling_of_b_email_and_no_guessed_id_tells_a_anything(
    db, role_url, upper, pad, guessed
):
    """Property: whatever the spelling of B's address, create_user refuses it without naming it
    and invite_user answers as for any address; a guessed id is answered like B's user's id."""
    email = (
        pad
        + "".join(c.upper() if u else c for c, u in zip("b@example.com", upper, strict=True))
        + pad
    )
    url = role_url(db, "platform_app")
    exc = refusal(url, ORG_A, "SELECT app.create_user(%s, %s, 'X', 'member')", (USER_A, email))
    assert isinstance(exc, errors.UniqueViolation), error_text(exc)
    assert_no_leak(exc, "b@example.com", USER_B)
    invite = "SELECT count(*) FROM app.invite_user(%s, %s, 'member')"
    with psycopg.connect(url) as conn, tenant_transaction(conn, ORG_A):
        assert conn.execute(invite, (USER_A, email)).fetchone() == (1,)
        assert conn.execute(invite, (USER_A, "nobody@example.com")).fetchone() == (1,)
        raise psycopg.Rollback
    remove = "SELECT app.remove_member('" + USER_A + "', %s)"
    assert same_answer(
        refusal(url, ORG_A, remove, (str(guessed),)), refusal(url, ORG_A, remove, (USER_B,))
    )


def test_an_invitation_is_accepted_once_even_by_two_concurrent_requests(fresh, role_url):
    url = role_url(fresh, "platform_app")
    with psycopg.connect(url) as conn, tenant_transaction(conn, ORG_A):
        token = conn.execute(
            "SELECT token FROM app.invite_user(%s, 'twice@example.com', 'member')", (USER_A,)
        ).fetchone()[0]
    outcome: list[object] = []

    def second() -> None:
        with psycopg.connect(url) as other:
            try:
                with other.transaction():
                    other.execute("SELECT app.accept_invitation(%s)", (token,))
                outcome.append("accepted")
            except psycopg.Error as exc:
                outcome.append(exc)

    with psycopg.connect(url) as first:
        with first.transaction():
            first.execute("SELECT app.accept_invitation(%s)", (token,))
            thread = threading.Thread(target=second)
            thread.start()
            with psycopg.connect(fresh, autocommit=True) as watcher:
                for _ in range(200):  # until the second request waits on the invitation's lock
                    waiting = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query LIKE '%%accept_invitation%%'"
                    ).fetchone()[0]
                    if waiting:
                        break
                    time.sleep(0.05)
                assert waiting, "the second accept never waited for the first"
        thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], errors.NoDataFound), outcome
    with psycopg.connect(fresh) as conn:
        assert conn.execute(
            "SELECT count(*) FROM app.audit_log WHERE action = 'invitation.accept'"
        ).fetchone() == (1,)
        assert conn.execute(
            "SELECT count(*) FROM app.memberships m JOIN app.users u ON u.id = m.user_id "
            "WHERE u.email = 'twice@example.com'"
        ).fetchone() == (1,)
