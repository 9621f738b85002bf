"""The operational schema's migrations and invariants: reversible, lint-clean, constraints enforced.

Writes run as the service roles inside a tenant transaction where those roles may write, so a
rejection below comes from a constraint, not from a missing privilege; every statement is rolled
back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from dagster_project.lib import paths
from dagster_project.lib.db.tenant import tenant_transaction
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.cycle import smoke
from dagster_project.lib.migrations.lint import lint_directory

ORG_A = "0a000000-0000-4000-8000-00000000000a"
ORG_B = "0b000000-0000-4000-8000-00000000000b"
USER_A = "0a000000-0000-4000-8000-0000000000a1"
USER_B = "0b000000-0000-4000-8000-0000000000b1"
MODEL = "0c000000-0000-4000-8000-0000000000c1"
UNKNOWN = "0d000000-0000-4000-8000-0000000000d1"

SEED = f"""
INSERT INTO app.organizations (id, slug, name) VALUES ('{ORG_A}', 'org-a', 'A'), ('{ORG_B}', 'org-b', 'B');
INSERT INTO app.users (id, email) VALUES ('{USER_A}', 'a@example.com'), ('{USER_B}', 'b@example.com');
INSERT INTO app.memberships VALUES ('{ORG_A}', '{USER_A}', 'owner'), ('{ORG_B}', '{USER_B}', 'owner');
INSERT INTO app.model_registry (id, provider, model_name, version, context_window)
    VALUES ('{MODEL}', 'openai', 'gpt-4o', '2024-08-06', 128000);
INSERT INTO app.model_prices VALUES ('{MODEL}', '2026-01-01', NULL, 2.5, 10);
"""

KEY = (
    "INSERT INTO app.api_keys (organization_id, name, key_prefix, key_hash, scopes, created_by, "
    "created_at, expires_at) VALUES ('{org}', 'k', 'plk_abcd', {hash}, {scopes}, {created_by}, "
    "'2026-01-01', {expires})"
)
EVENT = (
    "INSERT INTO app.usage_events (organization_id, event_id, occurred_at, model_id, operation, "
    "input_tokens, output_tokens, latency_ms, status, error_code, cost_usd, price_id, "
    "input_cost_usd) VALUES "
    "('{org}', 'ev-1', {at}, '"
    + MODEL
    + "', 'chat', {input}, 5, {latency}, {status}, {error}, 0.01, 0, 0.01)"
)
BUDGET = (
    "INSERT INTO app.budgets (organization_id, model_id, period, token_limit, cost_limit_usd, "
    "soft_threshold, hard_threshold) VALUES ('" + ORG_A + "', {model}, {period}, {tokens}, NULL, "
    "{soft}, {hard})"
)


def key(**overrides: str) -> str:
    values = {
        "org": ORG_A,
        "hash": "sha256('k')",
        "scopes": "'{usage:write}'",
        "created_by": f"'{USER_A}'",
        "expires": "NULL",
        **overrides,
    }
    return KEY.format(**values)


def event(**overrides: str) -> str:
    values = {
        "org": ORG_A,
        "at": "now()",
        "input": "10",
        "latency": "100",
        "status": "'success'",
        "error": "NULL",
        **overrides,
    }
    return EVENT.format(**values)


def budget(**overrides: str) -> str:
    values = {
        "model": "NULL",
        "period": "'month'",
        "tokens": "1000",
        "soft": "0.8",
        "hard": "1.0",
        **overrides,
    }
    return BUDGET.format(**values)


@pytest.fixture(scope="module")
def db(operational_databases) -> Iterator[str]:
    url = operational_databases.create()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED)
    yield url
    operational_databases.drop(url)


def attempt(url: str, statement: str, *, org: str | None = ORG_A) -> None:
    """Run `statement` (as a tenant unless org is None) and roll it back; errors propagate."""
    with (
        psycopg.connect(url) as conn,
        conn.transaction() if org is None else tenant_transaction(conn, org),
    ):
        conn.execute(statement)
        raise psycopg.Rollback


# -- migrations as a whole ----------------------------------------------------------------------


def test_up_down_up_of_every_migration_leaves_an_identical_catalog(pg_server_url):
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    report = smoke("operational", url=pg_server_url, config=config)
    assert report.migrations >= 5
    assert report.failures == []


def test_operational_migrations_pass_lint():
    assert [str(v) for v in lint_directory(paths.MIGRATIONS_DIR / "operational")] == []


def test_every_foreign_key_is_indexed_and_usage_events_stays_lean(db):
    with psycopg.connect(db) as conn:
        unindexed = conn.execute("""
            SELECT con.conrelid::regclass::text, con.conname FROM pg_constraint con
            WHERE con.contype = 'f' AND con.connamespace = 'app'::regnamespace AND con.conparentid = 0
              AND NOT EXISTS (
                  SELECT 1 FROM pg_index i
                  WHERE i.indrelid = con.conrelid
                    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)]
                        @> con.conkey
                    AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)]
                        <@ con.conkey)
            ORDER BY 1, 2""").fetchall()
        usage_indexes = conn.execute(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'app.usage_events'::regclass"
        ).fetchone()[0]
        usage_fks = conn.execute(
            "SELECT array_agg(conname::text) FROM pg_constraint "
            "WHERE conrelid = 'app.usage_events'::regclass AND contype = 'f'"
        ).fetchone()[0]
    assert unindexed == []
    assert usage_indexes <= 3  # every index costs ingestion throughput
    # None: each would be a per-row check on ingestion. The organization is still enforced,
    # per rollup group (test_invalid_foreign_keys_are_rejected) and on delete (below).
    assert usage_fks is None


ORG_LONE = "0e000000-0000-4000-8000-00000000000e"  # no members, keys or budgets: only events


@pytest.mark.parametrize(
    ("statement", "refused_by"),
    [
        (f"DELETE FROM app.organizations WHERE id = '{ORG_LONE}'", "usage events"),
        # the rollups' keys (ON UPDATE NO ACTION) answer before the guard does
        (f"UPDATE app.organizations SET id = '{UNKNOWN}' WHERE id = '{ORG_LONE}'", "usage_hourly"),
        ("TRUNCATE app.organizations CASCADE", "usage_events has rows"),
    ],
    ids=["delete", "re-key", "truncate"],
)
def test_an_organization_with_usage_events_cannot_go_away(db, statement, refused_by):
    """What the dropped usage_events -> organizations key prevented, refused by the guard on
    the organizations side (an organization nothing else references, so no other key answers
    first; run as the superuser, who skips RLS: the guard's definer sees all events anyway)."""
    with psycopg.connect(db) as conn:
        conn.execute(
            f"INSERT INTO app.organizations (id, slug, name) VALUES ('{ORG_LONE}', 'lone', 'L')"
        )
        conn.execute(event(org=ORG_LONE))
        with pytest.raises(errors.ForeignKeyViolation, match=refused_by):
            conn.execute(statement)
        conn.rollback()


def test_an_organization_without_usage_events_can_be_deleted_and_renamed(db):
    """Control for the test above: the guard refuses only what would orphan events."""
    with psycopg.connect(db) as conn:
        conn.execute(event(org=ORG_B))
        conn.execute(f"UPDATE app.organizations SET id = id, name = 'A2' WHERE id = '{ORG_A}'")
        conn.execute(f"DELETE FROM app.organizations WHERE id = '{ORG_A}'")
        conn.rollback()


# -- foreign keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "org", "statement"),
    [
        # as the superuser: platform_app may not insert memberships at all (202612051030)
        (
            "postgres",
            None,
            f"INSERT INTO app.memberships VALUES ('{ORG_A}', '{UNKNOWN}', 'member')",
        ),
        # the creator must be a member of the key's organization, not any tenant's user
        ("platform_app", ORG_A, key(created_by=f"'{USER_B}'")),
        ("platform_app", ORG_A, budget(model=f"'{UNKNOWN}'")),
        ("platform_ingest", UNKNOWN, event(org=UNKNOWN)),
        (
            "postgres",
            None,
            f"INSERT INTO app.model_prices VALUES ('{UNKNOWN}', '2026-01-01', NULL, 1, 1)",
        ),
    ],
    ids=[
        "membership-user",
        "key-creator-of-other-tenant",
        "budget-model",
        "event-org",
        "price-model",
    ],
)
def test_invalid_foreign_keys_are_rejected(db, role_url, role, org, statement):
    with pytest.raises(errors.ForeignKeyViolation):
        attempt(role_url(db, role), statement, org=org)


# -- checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "statement"),
    [
        ("platform_ingest", event(input="-1")),
        ("platform_ingest", event(latency="-5")),
        ("platform_ingest", event(status="'ok'")),
        ("platform_ingest", event(error="'rate_limited'")),  # an error code on a success
        ("platform_app", key(expires="'2026-01-01'")),  # expires_at = created_at
        ("platform_app", key(expires="'2025-12-31'")),  # expires_at < created_at
        ("platform_app", key(hash="'\\x00'::bytea")),  # not a sha256
        (
            "platform_app",
            key(hash="convert_to('plk_live_0123456789abcdef0123456789ab', 'UTF8')"),
        ),  # plaintext
        ("platform_app", key(scopes="'{}'")),
        ("platform_app", key(scopes="'{\"usage write\"}'")),
        # users and memberships: written by the superuser (seeds) and the membership functions
        ("postgres", f"INSERT INTO app.memberships VALUES ('{ORG_A}', '{USER_B}', 'god')"),
        (
            "postgres",
            "INSERT INTO app.users (id, email) VALUES (gen_random_uuid(), 'Mixed@Example.com')",
        ),
        ("platform_app", budget(soft="0.9", hard="0.8")),
        ("platform_app", budget(hard="1.5")),
        ("platform_app", budget(tokens="NULL")),  # neither a token nor a cost limit
        ("platform_app", budget(period="'week'")),
        (
            "postgres",
            f"INSERT INTO app.model_prices VALUES ('{MODEL}', '2027-01-01', '2027-01-01', 1, 1)",
        ),
        ("postgres", f"INSERT INTO app.model_prices VALUES ('{MODEL}', '2027-01-01', NULL, -1, 1)"),
    ],
)
def test_constraint_violations_are_rejected(db, role_url, role, statement):
    with pytest.raises(errors.CheckViolation):
        attempt(role_url(db, role), statement, org=None if role == "postgres" else ORG_A)


def test_a_valid_row_of_each_kind_is_accepted(db, role_url):
    """Control for the two tests above: the same templates, unmodified, insert fine."""
    attempt(role_url(db, "platform_ingest"), event())
    attempt(role_url(db, "platform_ingest"), event(status="'error'", error="'rate_limited'"))
    attempt(role_url(db, "platform_app"), key(expires="'2027-01-01'"))
    attempt(role_url(db, "platform_app"), budget(model=f"'{MODEL}'"))


def test_duplicate_budget_scope_is_rejected_even_without_a_model(db, role_url):
    with (
        psycopg.connect(role_url(db, "platform_app")) as conn,
        pytest.raises(errors.UniqueViolation),
        tenant_transaction(conn, ORG_A),
    ):
        conn.execute(budget())
        conn.execute(budget(tokens="5"))  # model_id NULL twice: NULLS NOT DISTINCT


# -- price history ------------------------------------------------------------------------------


def test_overlapping_price_periods_are_rejected(db):
    overlapping = (
        f"INSERT INTO app.model_prices VALUES ('{MODEL}', '2026-06-01', '2026-07-01', 1, 1)"
    )
    with pytest.raises(errors.ExclusionViolation):
        attempt(db, overlapping, org=None)


def test_started_price_periods_are_history(db):
    with pytest.raises(errors.IntegrityConstraintViolation, match="is history"):
        attempt(
            db,
            f"UPDATE app.model_prices SET input_usd_per_mtok = 1 WHERE model_id = '{MODEL}'",
            org=None,
        )
    with pytest.raises(errors.IntegrityConstraintViolation, match="is history"):
        attempt(db, f"DELETE FROM app.model_prices WHERE model_id = '{MODEL}'", org=None)
    # The allowed change: close the open period from now on, then add the next one.
    attempt(
        db,
        f"""
        UPDATE app.model_prices SET effective_to = '2100-01-01' WHERE model_id = '{MODEL}';
        INSERT INTO app.model_prices VALUES ('{MODEL}', '2100-01-01', NULL, 3, 12)""",
        org=None,
    )


# -- partitions ---------------------------------------------------------------------------------


def test_usage_event_outside_the_partitions_fails_loudly(db, role_url):
    with pytest.raises(errors.CheckViolation, match="no partition"):
        attempt(role_url(db, "platform_ingest"), event(at="'1999-01-01 12:00+00'"))
    with psycopg.connect(db) as conn:
        default = conn.execute(
            "SELECT partdefid FROM pg_partitioned_table "
            "WHERE partrelid = 'app.usage_events'::regclass"
        ).fetchone()[0]
    assert default == 0  # no default partition to swallow such rows


def test_ensure_usage_partitions_creates_utc_days_idempotently(db, role_url):
    insert = event(org=ORG_A, at="%s::timestamptz") + " RETURNING tableoid::regclass::text"
    with psycopg.connect(db) as conn:  # superuser: the maintenance job's kind of caller
        # Neither the session's time zone nor its date style may shift the day boundaries.
        conn.execute("SET TimeZone = 'America/Los_Angeles'; SET DateStyle = 'SQL, DMY'")
        ensure = "SELECT app.ensure_usage_partitions(%s, %s)"
        assert conn.execute(ensure, ("2001-01-01", "2001-01-03")).fetchone()[0] == 2
        assert conn.execute(ensure, ("2001-01-01", "2001-01-04")).fetchone()[0] == 1
        landed = conn.execute(insert, ("2001-01-01 00:00:00+00",)).fetchone()[0]
        assert landed == "app.usage_events_p20010101"
        with pytest.raises(errors.CheckViolation), conn.transaction():
            conn.execute(insert, ("2000-12-31 23:59:59+00",))
        with pytest.raises(errors.InvalidParameterValue), conn.transaction():
            conn.execute(ensure, ("2001-01-03", "2001-01-03"))
        conn.rollback()
    for role in ("platform_app", "platform_ingest", "platform_analyst"):
        with pytest.raises(errors.InsufficientPrivilege):
            attempt(
                role_url(db, role), "SELECT app.ensure_usage_partitions('2001-01-01', '2001-01-02')"
            )
