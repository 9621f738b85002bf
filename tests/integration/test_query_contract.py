"""The operational query contract (docs/query-contract.md): each query's plan, checked with EXPLAIN.

The queries run as they do in the service: as platform_app inside a tenant transaction (RLS
applies), key_lookup without a tenant. A modest dataset (80k events over the past days the migration
made partitions for, 40 tenants), ANALYZEd, is enough for the planner to choose as on 10M events. Each query is explained
twice: with its parameter values (a custom plan: partitions pruned at plan time) and as a
prepared statement's generic plan (psycopg prepares a statement after 5 runs; PostgreSQL may then
switch to a generic plan, where partitions are pruned at executor start-up).

org_usage and budget_consumption read the rollups app.usage_hourly and app.usage_daily, which a
statement trigger on app.usage_events maintains (migration 202611221100). Their results are
compared with a direct aggregation of the raw events, which also proves the seed's bulk insert
kept the rollups exact; the last tests check the trigger itself (duplicates, COPY, savepoints,
the service roles' privileges) on fresh databases.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from psycopg import errors

from dagster_project.lib.db.tenant import tenant_transaction
from dagster_project.lib.queries import OPERATIONAL, budget_periods, operational

ORGS = 40  # each tenant ~2.5 % of a day's events: index territory, as for all but the largest
USERS = 50  # per tenant: memberships big enough that a probe beats reading the table
KEYS = 20  # per tenant (key 2 revoked, key 3 expired)
EVENTS = 80_000
NOW = datetime.now(UTC).replace(microsecond=0)

SEED_SQL = f"""
-- Seeding only: skip the organizations FK trigger. The rollup trigger fires all the same (it is
-- ENABLE ALWAYS), so the 80k events below reach usage_hourly and usage_daily as one statement.
SET session_replication_role = replica;
INSERT INTO app.model_registry (id, provider, model_name, version, context_window)
SELECT md5('model-' || m)::uuid, 'openai', 'model-' || m, '1', 128000 FROM generate_series(1, 4) AS m;
INSERT INTO app.organizations (id, slug, name)
SELECT md5('org-' || o)::uuid, 'org-' || o, 'Org ' || o FROM generate_series(1, {ORGS}) AS o;
INSERT INTO app.users (id, email)
SELECT md5('user-' || o || '-' || u)::uuid, 'u' || u || '@org' || o || '.example.com'
FROM generate_series(1, {ORGS}) AS o, generate_series(1, {USERS}) AS u;
INSERT INTO app.memberships (organization_id, user_id, role)
SELECT md5('org-' || o)::uuid, md5('user-' || o || '-' || u)::uuid,
       CASE u WHEN 1 THEN 'owner' WHEN 2 THEN 'admin' ELSE 'member' END
FROM generate_series(1, {ORGS}) AS o, generate_series(1, {USERS}) AS u;
INSERT INTO app.api_keys (id, organization_id, name, key_prefix, key_hash, scopes, created_at,
                          expires_at, revoked_at)
SELECT md5('key-' || o || '-' || k)::uuid, md5('org-' || o)::uuid, 'key ' || k, 'plat_test_' || k,
       sha256(convert_to('key-' || o || '-' || k, 'UTF8')), '{{usage:write}}', now() - interval '30 days',
       CASE k WHEN 3 THEN now() - interval '1 day' END, CASE k WHEN 2 THEN now() - interval '1 day' END
FROM generate_series(1, {ORGS}) AS o, generate_series(1, {KEYS}) AS k;
INSERT INTO app.budgets (organization_id, model_id, period, token_limit)
SELECT md5('org-' || o)::uuid, m, p, 1000000
FROM generate_series(1, {ORGS}) AS o, (VALUES ('day'), ('month')) AS t (p),
     (VALUES (NULL::uuid), (md5('model-1')::uuid)) AS s (m);
-- Spread over [start, now), tenants interleaved; 1 event in 10 without a key, half of the rest
-- with the tenant's key 1 (a busy key: the one the latest-events page matters for). Every partition
-- of the past holds rows: the planner rightly seq-scans an empty one, and production has none.
INSERT INTO app.usage_events (occurred_at, organization_id, user_id, api_key_id, model_id,
    input_tokens, output_tokens, latency_ms, event_id, operation, status, cost_usd, price_id,
    input_cost_usd)
SELECT %(now)s::timestamptz - i * (%(now)s::timestamptz - %(start)s::timestamptz) / {EVENTS},
       md5('org-' || (1 + mod(i, {ORGS})))::uuid, md5('user-' || (1 + mod(i, {ORGS})) || '-1')::uuid,
       CASE WHEN mod(i, 10) <> 0
            THEN md5('key-' || (1 + mod(i, {ORGS})) || '-' || (1 + mod(i / {ORGS}, 2) * mod(i / {ORGS} / 2, {KEYS})))::uuid END,
       md5('model-' || (1 + mod(i, 4)))::uuid, 100 + mod(i, 900), 10 + mod(i, 300), 400, 'ev-' || i,
       'chat.completions', CASE WHEN mod(i, 50) = 0 THEN 'error' ELSE 'success' END, 0.001, 0, 0.001
FROM generate_series(1, {EVENTS}) AS i;
RESET session_replication_role;
ANALYZE;
"""

ORG = "org-7"  # any tenant: the data is uniform


def md5_uuid(text: str) -> str:
    h = hashlib.md5(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


ORG_ID = md5_uuid(ORG)
OTHER_ORG_ID = md5_uuid("org-8")


@dataclass(frozen=True)
class Db:
    url: str  # superuser
    app_url: str  # platform_app
    partitions: dict[str, date]  # usage_events partition -> its UTC day
    index_parent: dict[str, str]  # partition index -> the usage_events index it belongs to


@pytest.fixture(scope="module")
def db(operational_databases, role_url) -> Iterator[Db]:
    url = operational_databases.create()
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        partitions = {
            name: datetime.strptime(name[-8:], "%Y%m%d").date()
            for (name,) in conn.execute(
                "SELECT inhrelid::regclass::text FROM pg_inherits "
                "WHERE inhparent = 'app.usage_events'::regclass"
            )
        }
        first_day = min(partitions.values())
        start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
        conn.execute(SEED_SQL, {"now": NOW, "start": start})  # client-side binding: many statements
        index_parent = dict(
            conn.execute(
                "SELECT c.relname::text, p.relname::text FROM pg_inherits AS i "
                "JOIN pg_class AS c ON c.oid = i.inhrelid JOIN pg_class AS p ON p.oid = i.inhparent "
                "WHERE p.relname IN ('pk_usage_events', 'idx_usage_events_api_key_occurred_at')"
            ).fetchall()
        )
    partitions = {name.removeprefix("app."): day for name, day in partitions.items()}
    yield Db(url, role_url(url, "platform_app"), partitions, index_parent)
    operational_databases.drop(url)


def explain(conn: psycopg.Connection, sql: str, params: dict, generic: bool) -> dict:
    """The JSON plan of `sql`: custom (values bound) or the generic plan of a prepared statement."""
    if not generic:
        return conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]
    names: list[str] = []

    def placeholder(match: re.Match) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    conn.execute("PREPARE contract_query AS " + re.sub(r"%\((\w+)\)s", placeholder, sql))
    try:
        cur = psycopg.ClientCursor(conn)  # EXECUTE takes literals, not bind parameters
        values = [params[name] for name in names]
        args = ", ".join(["%s"] * len(values))
        cur.execute(f"EXPLAIN (FORMAT JSON) EXECUTE contract_query({args})", values)
        return cur.fetchone()[0][0]["Plan"]
    finally:
        conn.execute("DEALLOCATE contract_query")


def nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def usage_scans(db: Db, plan: dict) -> tuple[set[str], set[str], set[str]]:
    """(node types reading usage_events partitions, partitions read, parent indexes used)."""
    types, partitions, indexes = set(), set(), set()
    for node in nodes(plan):
        if node.get("Relation Name") in db.partitions:
            types.add(node["Node Type"])
            partitions.add(node["Relation Name"])
        if node.get("Index Name") in db.index_parent:
            indexes.add(db.index_parent[node["Index Name"]])
    return types, partitions, indexes


def overlapping(db: Db, start: datetime, end: datetime) -> set[str]:
    """The partitions holding any instant of [start, end)."""
    return {
        name
        for name, day in db.partitions.items()
        if datetime(day.year, day.month, day.day, tzinfo=UTC) < end
        and datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) > start
    }


def assert_index_scans(db: Db, plan: dict, index: str, partitions: set[str]) -> None:
    types, read, indexes = usage_scans(db, plan)
    assert "Seq Scan" not in types, f"sequential scan on usage_events: {types}"
    assert types <= {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}, types
    assert indexes == {index}
    assert read == partitions, "partition pruning: read exactly the partitions of the range"


PLAN_MODES = pytest.mark.parametrize("generic", [False, True], ids=["custom", "generic"])


@PLAN_MODES
def test_key_lookup_is_one_probe_of_the_unique_hash_index(db: Db, generic: bool) -> None:
    params = {"key_hash": hashlib.sha256(f"{ORG.replace('org', 'key')}-1".encode()).digest()}
    with psycopg.connect(db.app_url) as conn, conn.transaction():
        # SECURITY DEFINER: the function is not inlined, the service sees a function scan ...
        outer = explain(conn, operational("key_lookup"), params, generic)
        assert [n["Node Type"] for n in nodes(outer)] == ["Function Scan"]
    # ... and the function's body runs as platform_owner: explain that, as platform_owner.
    with psycopg.connect(db.url) as conn, conn.transaction():
        body = conn.execute(
            "SELECT prosrc FROM pg_proc WHERE oid = 'app.lookup_api_key(bytea)'::regprocedure"
        ).fetchone()[0]
        conn.execute("SET LOCAL ROLE platform_owner")
        plan = explain(conn, body.replace("p_key_hash", "%(key_hash)s"), params, generic)
    assert [(n["Node Type"], n.get("Index Name")) for n in nodes(plan)] == [
        ("Index Scan", "uq_api_keys_key_hash")
    ]
    assert "key_hash" in plan["Index Cond"]


def test_key_lookup_results(db: Db) -> None:
    def lookup(key: str) -> list[tuple]:
        key_hash = hashlib.sha256(key.encode()).digest()
        rows = conn.execute(operational("key_lookup"), {"key_hash": key_hash}).fetchall()
        # api_key_id, organization_id, status, scopes, expires_at?, revoked_at?
        return [
            (str(r[0]), str(r[1]), r[2], r[3], r[4] is not None, r[5] is not None) for r in rows
        ]

    with psycopg.connect(db.app_url, autocommit=True) as conn:
        key = lambda k: md5_uuid(f"key-7-{k}")  # noqa: E731
        assert lookup("key-7-1") == [(key(1), ORG_ID, "active", ["usage:write"], False, False)]
        # Known but unusable: told apart from an unknown key, and without scopes (fails closed).
        assert lookup("key-7-2") == [(key(2), ORG_ID, "revoked", [], False, True)]
        assert lookup("key-7-3") == [(key(3), ORG_ID, "expired", [], True, False)]
        assert lookup("no such key") == []


@PLAN_MODES
def test_membership_check_probes_the_primary_key(db: Db, generic: bool) -> None:
    params = {
        "organization_id": ORG_ID,
        "user_id": md5_uuid(f"user-{ORG[4:]}-1"),
        "roles": ["owner"],
    }
    with psycopg.connect(db.app_url) as conn, tenant_transaction(conn, ORG_ID):
        plan = explain(conn, operational("membership_check"), params, generic)
        # One probe: of the primary key (organization_id, user_id), or of the user_id index
        # (the user's few memberships, then the organization filtered), whichever is cheaper.
        scans = [(n["Node Type"], n.get("Index Name")) for n in nodes(plan) if "Relation Name" in n]
        assert len(scans) == 1 and scans[0][0] in ("Index Scan", "Index Only Scan")
        assert scans[0][1] in ("pk_memberships", "idx_memberships_user_id")

        def check(user: int, org: str = ORG_ID) -> list[tuple]:
            args = {**params, "organization_id": org, "user_id": md5_uuid(f"user-7-{user}")}
            return conn.execute(operational("membership_check"), args).fetchall()

        assert check(1) == [("owner", True)]
        assert check(3) == [("member", False)]
        assert check(USERS + 1) == []  # not a member
        assert check(1, OTHER_ORG_ID) == []  # another tenant than the transaction's: nothing


def assert_rollup_scan(db: Db, plan: dict, table: str, index: str) -> None:
    """The query reads `table` through `index` only, and no usage_events partition at all."""
    scans = [n for n in nodes(plan) if "Relation Name" in n]
    assert not any(n["Relation Name"] in db.partitions for n in scans), "read raw usage events"
    rollup = [n for n in scans if n["Relation Name"] == table]
    assert rollup and {n["Node Type"] for n in rollup} <= {
        "Index Scan",
        "Index Only Scan",
        "Bitmap Heap Scan",
    }, [n["Node Type"] for n in rollup]
    indexes = {
        n["Index Name"] for n in nodes(plan) if n.get("Index Name", "").startswith("pk_usage")
    }
    assert indexes == {index}


@PLAN_MODES
def test_org_usage_reads_the_hourly_rollup_by_primary_key(db: Db, generic: bool) -> None:
    end = NOW.replace(minute=0, second=0)
    params = {"organization_id": ORG_ID, "range_start": end - timedelta(hours=24), "range_end": end}
    with psycopg.connect(db.app_url) as conn, tenant_transaction(conn, ORG_ID):
        plan = explain(conn, operational("org_usage"), params, generic)
        assert_rollup_scan(db, plan, "usage_hourly", "pk_usage_hourly")
        assert "Sort" not in [n["Node Type"] for n in nodes(plan)]  # the index's order
        rows = conn.execute(operational("org_usage"), params).fetchall()
    with psycopg.connect(db.url) as conn:
        expected = conn.execute(
            "SELECT date_trunc('hour', occurred_at, 'UTC'), model_id, count(*), "
            "       count(*) FILTER (WHERE status = 'error'), sum(input_tokens), "
            "       sum(output_tokens), sum(cost_usd) "
            "FROM app.usage_events WHERE organization_id = %(organization_id)s "
            "AND occurred_at >= %(range_start)s AND occurred_at < %(range_end)s "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            params,
        ).fetchall()
    assert rows == expected and len({row[0] for row in rows}) == 24


def test_org_usage_range_is_hour_buckets_starting_in_it(db: Db) -> None:
    """Hour-aligned bounds; a bucket counts when its hour starts in [range_start, range_end)."""
    end = NOW.replace(minute=0, second=0)
    params = {"organization_id": ORG_ID, "range_start": end - timedelta(hours=3), "range_end": end}
    with psycopg.connect(db.app_url) as conn, tenant_transaction(conn, ORG_ID):
        rows = conn.execute(operational("org_usage"), params).fetchall()
        other = conn.execute(operational("org_usage"), {**params, "organization_id": OTHER_ORG_ID})
        assert other.fetchall() == []  # another tenant than the transaction's: nothing
    assert sorted({row[0] for row in rows}) == [end - timedelta(hours=h) for h in (3, 2, 1)]


def latest_events_params() -> dict:
    return {
        "organization_id": ORG_ID,
        "api_key_id": md5_uuid("key-7-1"),
        "since": NOW - timedelta(days=31),
        "before": NOW,
        "limit_rows": 50,
    }


@PLAN_MODES
def test_key_latest_events_reads_the_key_index_of_the_window(db: Db, generic: bool) -> None:
    params = latest_events_params()
    with psycopg.connect(db.app_url) as conn, tenant_transaction(conn, ORG_ID):
        plan = explain(conn, operational("key_latest_events"), params, generic)
        window = overlapping(db, params["since"], params["before"])
        assert_index_scans(db, plan, "idx_usage_events_api_key_occurred_at", window)
        rows = conn.execute(operational("key_latest_events"), params).fetchall()
    with psycopg.connect(db.url) as conn:
        expected = conn.execute(
            "SELECT event_id FROM app.usage_events WHERE api_key_id = %(api_key_id)s "
            "ORDER BY occurred_at DESC LIMIT 50",
            params,
        ).fetchall()
    assert [(row[1],) for row in rows] == expected and len(rows) == 50


@PLAN_MODES
def test_key_latest_events_stops_at_the_newest_partitions(db: Db, generic: bool) -> None:
    """An ordered Append under the Limit: no sort; partitions read newest first until the page
    is full. A Sort would read every event of the key in the window, however many. The custom
    plan needs the (dependencies) statistics on (api_key_id, organization_id) of each partition
    (migration 202611221120): without them the planner multiplies the key's and the tenant's
    selectivities, expects ~1/ORGS of the key's rows and sorts them all."""
    with psycopg.connect(db.app_url) as conn, tenant_transaction(conn, ORG_ID):
        plan = explain(conn, operational("key_latest_events"), latest_events_params(), generic)
    types = [n["Node Type"] for n in nodes(plan)]
    assert types[:2] == ["Limit", "Append"] and "Sort" not in types, types


BUDGET_EXPECTED = """
SELECT b.id, coalesce(sum(e.input_tokens + e.output_tokens), 0), coalesce(sum(e.cost_usd), 0)
FROM app.budgets AS b
LEFT JOIN app.usage_events AS e
       ON e.organization_id = b.organization_id
      AND (b.model_id IS NULL OR e.model_id = b.model_id)
      AND e.occurred_at >= CASE b.period WHEN 'day' THEN %(day_start)s ELSE %(month_start)s END
      AND e.occurred_at < %(until)s
WHERE b.organization_id = %(organization_id)s
GROUP BY b.id
"""


@PLAN_MODES
def test_budget_consumption_reads_the_daily_rollup_by_primary_key(db: Db, generic: bool) -> None:
    periods = budget_periods(NOW)
    params = {"organization_id": ORG_ID, **periods}
    with psycopg.connect(db.app_url) as conn, tenant_transaction(conn, ORG_ID):
        plan = explain(conn, operational("budget_consumption"), params, generic)
        assert_rollup_scan(db, plan, "usage_daily", "pk_usage_daily")
        rows = conn.execute(operational("budget_consumption"), params).fetchall()
    with psycopg.connect(db.url) as conn:
        expected = {row[0]: row[1:] for row in conn.execute(BUDGET_EXPECTED, params)}
    assert len(rows) == 4  # day and month, all models and model-1
    # Every budget's tokens and cost = the raw events of its model(s) in its period.
    assert {row[0]: (row[7], row[8]) for row in rows} == expected
    if NOW - periods["month_start"] > timedelta(hours=1):  # else the month may have no events yet
        assert max(tokens for tokens, _ in expected.values()) > 0


def test_docs_show_each_query_as_shipped(project_root) -> None:
    doc = (project_root / "docs" / "query-contract.md").read_text()
    for name in OPERATIONAL:
        lines = operational(name).splitlines()
        statement = "\n".join(line for line in lines if not line.startswith("--")).strip()
        assert statement in doc, f"docs/query-contract.md shows an outdated {name}.sql"


# -- the rollups and their trigger (migration 202611221100) ---------------------------------------

ROLLUP_DIFF = """
WITH hourly AS (
    SELECT organization_id, date_trunc('hour', occurred_at, 'UTC') AS hour, model_id,
           count(*) AS requests, count(*) FILTER (WHERE status = 'error') AS errors,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(cost_usd) AS cost_usd
    FROM app.usage_events GROUP BY 1, 2, 3
), daily AS (
    SELECT organization_id, (hour AT TIME ZONE 'UTC')::date AS day, model_id, sum(requests) AS
           requests, sum(errors) AS errors, sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd
    FROM hourly GROUP BY 1, 2, 3
), h AS (SELECT organization_id, hour, model_id, requests, errors, input_tokens, output_tokens,
                cost_usd FROM app.usage_hourly),
   d AS (SELECT organization_id, day, model_id, requests, errors, input_tokens, output_tokens,
                cost_usd FROM app.usage_daily)
SELECT 'hourly missing', * FROM (TABLE hourly EXCEPT ALL TABLE h) AS x
UNION ALL SELECT 'hourly extra', * FROM (TABLE h EXCEPT ALL TABLE hourly) AS x
UNION ALL SELECT 'daily missing', organization_id, day::timestamptz, model_id, requests, errors,
    input_tokens, output_tokens, cost_usd FROM (TABLE daily EXCEPT ALL TABLE d) AS x
UNION ALL SELECT 'daily extra', organization_id, day::timestamptz, model_id, requests, errors,
    input_tokens, output_tokens, cost_usd FROM (TABLE d EXCEPT ALL TABLE daily) AS x
"""


def rollup_diff(conn: psycopg.Connection) -> list[tuple]:
    """Rows where the rollups differ from a direct aggregation of the events (as superuser)."""
    return conn.execute(ROLLUP_DIFF).fetchall()


def test_rollups_equal_a_direct_aggregation_of_the_events(db: Db) -> None:
    with psycopg.connect(db.url) as conn:
        assert rollup_diff(conn) == []
        hourly, daily = conn.execute(
            "SELECT (SELECT sum(requests) FROM app.usage_hourly), "
            "(SELECT sum(requests) FROM app.usage_daily)"
        ).fetchone()
    assert hourly == daily == EVENTS


EVENT_COLUMNS = (
    "occurred_at, organization_id, api_key_id, model_id, input_tokens, output_tokens, "
    "latency_ms, event_id, operation, status, cost_usd, price_id, input_cost_usd"
)
NEW_EVENTS = f"""
INSERT INTO app.usage_events ({EVENT_COLUMNS})
SELECT %(at)s::timestamptz - i * interval '7 minutes', %(org)s::uuid, NULL::uuid, md5('model-' || mod(i, 3))::uuid,
       i, 2 * i, 100, %(prefix)s || i, 'chat.completions'::text,
       CASE WHEN mod(i, 4) = 0 THEN 'error' ELSE 'success' END, (i / 1000.0)::numeric(18, 10),
       0, (i / 1000.0)::numeric(18, 10)
FROM generate_series(1, %(n)s) AS i
"""
TINY_SEED = """
INSERT INTO app.organizations (id, slug, name)
SELECT md5('org-' || o)::uuid, 'org-' || o, 'Org ' || o FROM generate_series(1, 2) AS o;
"""


@pytest.fixture
def fresh(operational_db_url: str) -> str:
    """A database of its own for the tests that write events: two tenants, no events."""
    with psycopg.connect(operational_db_url, autocommit=True) as conn:
        conn.execute(TINY_SEED)
    return operational_db_url


def test_duplicates_copy_and_rollbacks_keep_the_rollups_exact(fresh: str) -> None:
    org = md5_uuid("org-1")
    at = NOW.replace(minute=0, second=0)
    with psycopg.connect(fresh) as conn:
        # Buckets are UTC hours and days whatever the session's time zone.
        conn.execute("SET TimeZone = 'Asia/Kolkata'")
        base = {"at": at, "org": org, "prefix": "ev-", "n": 200}
        assert conn.execute(NEW_EVENTS, base).rowcount == 200
        assert rollup_diff(conn) == []

        # Resent events (ON CONFLICT DO NOTHING skips them) mixed with new ones: only the new
        # ones count.
        resent = NEW_EVENTS + " ON CONFLICT DO NOTHING"
        assert conn.execute(resent, {**base, "n": 250}).rowcount == 50
        assert conn.execute(resent, {**base, "n": 250}).rowcount == 0
        assert rollup_diff(conn) == []

        # COPY into the partitioned parent, routed to several partitions.
        columns = (
            "occurred_at, organization_id, model_id, input_tokens, output_tokens, "
            "latency_ms, event_id, operation, status, cost_usd, price_id, input_cost_usd"
        )
        with conn.cursor().copy(f"COPY app.usage_events ({columns}) FROM STDIN") as copy:
            for i in range(1, 301):
                copy.write_row((at - timedelta(minutes=13 * i), org, md5_uuid(f"model-{i % 2}"),
                                i, i, 50, f"copied-{i}", "embeddings",
                                "error" if i % 5 == 0 else "success", "0.0025", 0, "0.0025"))  # fmt: skip
        assert rollup_diff(conn) == []

        # Events rolled back (here to a savepoint) take their share of the rollups with them.
        total = "SELECT sum(requests) FROM app.usage_hourly"
        before = conn.execute(total).fetchone()[0]
        assert before == 200 + 50 + 300
        with conn.transaction() as savepoint:
            conn.execute(NEW_EVENTS, {**base, "prefix": "rolled-back-"})
            assert conn.execute(total).fetchone()[0] == before + 200
            raise psycopg.Rollback(savepoint)
        assert conn.execute(total).fetchone()[0] == before
        assert rollup_diff(conn) == []


@pytest.mark.parametrize("role", ["platform_app", "platform_ingest", "platform_analyst"])
@pytest.mark.parametrize("table", ["usage_hourly", "usage_daily"])
def test_service_roles_cannot_write_the_rollups(
    fresh: str, role_url, role: str, table: str
) -> None:
    org = md5_uuid("org-1")
    key = "hour" if table == "usage_hourly" else "day"
    value = "date_trunc('hour', now(), 'UTC')" if key == "hour" else "current_date"
    statements = [
        f"INSERT INTO app.{table} (organization_id, {key}, model_id, requests, errors, "
        f"input_tokens, output_tokens, cost_usd) VALUES ('{org}', {value}, '{org}', 1, 0, 1, 1, 1)",
        f"UPDATE app.{table} SET requests = requests + 1",
        f"DELETE FROM app.{table}",
        f"TRUNCATE app.{table}",
    ]
    for statement in statements:
        with (
            psycopg.connect(role_url(fresh, role)) as conn,
            pytest.raises(errors.InsufficientPrivilege),
            tenant_transaction(conn, org),
        ):
            conn.execute(statement)


def test_ingest_role_inserts_update_the_rollups_it_cannot_write(fresh: str, role_url) -> None:
    """platform_ingest writes events under RLS, one tenant per statement, as the loader does; the
    SECURITY DEFINER trigger adds them to the rollups, which the role may not even read."""
    at = NOW.replace(minute=0, second=0)
    with psycopg.connect(role_url(fresh, "platform_ingest")) as conn:
        for o in (1, 2):
            org = md5_uuid(f"org-{o}")
            with tenant_transaction(conn, org):
                conn.execute(NEW_EVENTS, {"at": at, "org": org, "prefix": "ev-", "n": 40 * o})
        with (
            tenant_transaction(conn, md5_uuid("org-1")),
            pytest.raises(errors.InsufficientPrivilege),
        ):
            conn.execute("SELECT count(*) FROM app.usage_hourly")
    with psycopg.connect(fresh) as conn:
        assert rollup_diff(conn) == []
        totals = conn.execute(
            "SELECT organization_id::text, sum(requests) FROM app.usage_daily GROUP BY 1 ORDER BY 2"
        ).fetchall()
    assert totals == [(md5_uuid("org-1"), 40), (md5_uuid("org-2"), 80)]
    # platform_app reads its tenant's rows only.
    with (
        psycopg.connect(role_url(fresh, "platform_app")) as conn,
        tenant_transaction(conn, md5_uuid("org-2")),
    ):
        seen = conn.execute(
            "SELECT DISTINCT organization_id::text FROM app.usage_hourly"
        ).fetchall()
    assert seen == [(md5_uuid("org-2"),)]


# -- per-partition statistics (migration 202611221120) -------------------------------------------

KEY_TENANT_STATISTICS = """
SELECT c.relname::text, s.stxname::text, s.stxkind::text,
       (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute AS a
        WHERE a.attrelid = s.stxrelid AND a.attnum = ANY (s.stxkeys)),
       EXISTS (SELECT 1 FROM pg_statistic_ext_data AS d
               WHERE d.stxoid = s.oid AND d.stxddependencies IS NOT NULL)
FROM pg_inherits AS i
JOIN pg_class AS c ON c.oid = i.inhrelid
LEFT JOIN pg_statistic_ext AS s ON s.stxrelid = c.oid
WHERE i.inhparent = 'app.usage_events'::regclass
ORDER BY 1
"""


def test_every_partition_knows_a_key_implies_its_tenant(db: Db) -> None:
    with psycopg.connect(db.url) as conn:
        rows = conn.execute(KEY_TENANT_STATISTICS).fetchall()
    assert {r[0] for r in rows} == set(db.partitions)
    for partition, name, kind, columns, built in rows:
        assert (name, kind, columns) == (
            f"{partition}_key_tenant",
            "{f}",
            ["api_key_id", "organization_id"],
        )
        if db.partitions[partition] < NOW.date():  # whole days of events, ANALYZEd by the seed
            assert built, partition


def test_ensure_usage_partitions_adds_the_statistics_to_new_and_existing_days(fresh: str) -> None:
    ensure = "SELECT app.ensure_usage_partitions(%s, %s)"
    with psycopg.connect(fresh, autocommit=True) as conn:
        assert conn.execute(ensure, ("2001-01-01", "2001-01-03")).fetchone()[0] == 2
        # A day retired and kept by partition maintenance (detached, renamed), then created again.
        conn.execute("ALTER TABLE app.usage_events DETACH PARTITION app.usage_events_p20010101")
        conn.execute(
            "ALTER TABLE app.usage_events_p20010101 RENAME TO usage_events_p20010101_detached"
        )
        conn.execute("DROP STATISTICS app.usage_events_p20010102_key_tenant")  # a day without them
        assert conn.execute(ensure, ("2001-01-01", "2001-01-03")).fetchone()[0] == 1
        statistics = conn.execute(
            "SELECT stxrelid::regclass::text, stxname::text FROM pg_statistic_ext "
            "WHERE stxname LIKE 'usage_events_p200101%%' ORDER BY 1"
        ).fetchall()
    assert statistics == [
        ("app.usage_events_p20010101", "usage_events_p20010101_key_tenant"),
        ("app.usage_events_p20010101_detached", "usage_events_p20010101_detached_key_tenant"),
        ("app.usage_events_p20010102", "usage_events_p20010102_key_tenant"),
    ]
