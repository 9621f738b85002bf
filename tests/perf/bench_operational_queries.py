"""Benchmark: the operational query contract on 10M synthetic usage events.

Run with `make bench` (or `PYTHONPATH=. .venv/bin/python tests/perf/bench_operational_queries.py`;
`--database URL` reuses an already generated database instead of a scratch one, for development).
Writes the "operational-queries" section of docs/performance.md.

1. A scratch database, migrated; 100 organizations with users, memberships, keys and budgets; 10M
   usage events over 30 days, generated set-based (INSERT ... SELECT generate_series) in time
   order, as ingestion writes them, so a tenant's rows are spread over its partitions' pages.
2. VACUUM ANALYZE, then each contract query (dagster_project/lib/queries/operational) many times
   with varied parameters, as platform_app inside tenant transactions (RLS on), warm.
3. The changes docs/query-contract.md weighs, on the same data: a covering index for index-only
   aggregation, and hourly and daily rollup tables; then what each costs ingestion.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import environment_line, write_section  # noqa: E402

from dagster_project.lib.db.tenant import tenant_transaction  # noqa: E402
from dagster_project.lib.migrations.config import load_config  # noqa: E402
from dagster_project.lib.migrations.cycle import scratch_database  # noqa: E402
from dagster_project.lib.migrations.runner import Runner  # noqa: E402
from dagster_project.lib.queries import budget_periods, operational  # noqa: E402

EVENTS = 10_000_000  # the dataset size
ORGS = 100  # tenants; rank r gets ln((r+1)/r)/ln(101) of the events: 15 % for the largest, 0.2 % the smallest
DAYS = 30  # of history before DATA_END
# A fixed end keeps the numbers comparable from run to run: "month so far" is always 27.5 days
# (near the worst case for month budgets) and the data does not move with the calendar.
DATA_END = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)
CHUNK = 500_000  # rows per generating INSERT (~7 s each): bounded transactions, 20 to share out
WORKERS = 2  # generating sessions: one per core of the reference machine
SEED = 20261122  # parameter draws are reproducible
ITERATIONS = 1000  # measured runs of a point query (index probes, LIMIT pages)
HEAVY_ITERATIONS = 100  # measured runs of an aggregation over raw events (slow cases take ~2 s)
LARGEST_ITERATIONS = 20  # runs of such an aggregation for the largest tenant alone
WARMUP = 20  # unmeasured runs before each measurement (caches, psycopg's prepared statements)
TARGET_MS = 5.0  # our bar for p95 (the seed's is 200 ms)
INGEST_BATCH = 50_000  # events per set-based INSERT in the ingest-cost measurement
INGEST_BATCHES = 10  # 500k events (~300 MB of WAL) per run: under the ~540 MB at which max_wal_size
# (1 GB) starts a checkpoint mid-run, which would add full-page images at random
INGEST_ROUNDS = 3  # best of 3 per variant: other sessions on a shared server only slow runs down

SETUP_SQL = """
SET session_replication_role = replica;  -- generating only: skip the organizations FK trigger
INSERT INTO app.model_registry (id, provider, model_name, version, context_window)
SELECT md5('bench-model-' || m)::uuid, p, n, v, c FROM (VALUES
    (1, 'openai', 'gpt-4o-mini', '2024-07-18', 128000), (2, 'openai', 'gpt-4o', '2024-08-06', 128000),
    (3, 'anthropic', 'claude-3-5-haiku', '20241022', 200000),
    (4, 'anthropic', 'claude-3-5-sonnet', '20241022', 200000),
    (5, 'google', 'gemini-1.5-flash', '002', 1000000), (6, 'google', 'gemini-1.5-pro', '002', 2000000),
    (7, 'mistral', 'mistral-large', '2411', 128000), (8, 'openai', 'text-embedding-3-small', '1', 8191)
) AS t (m, p, n, v, c);
INSERT INTO app.model_prices (model_id, effective_from, input_usd_per_mtok, output_usd_per_mtok)
SELECT md5('bench-model-' || m)::uuid, %(start)s::timestamptz - interval '400 days', pi, po
FROM unnest('{0.15,2.5,0.8,3,0.075,1.25,2,0.02}'::numeric[], '{0.6,10,4,15,0.3,5,6,0}'::numeric[])
    WITH ORDINALITY AS t (pi, po, m);
-- Larger tenants have more keys and users (up to 40 and 200).
CREATE TABLE bench_orgs AS
SELECT r, md5('bench-org-' || r)::uuid AS id, greatest(2, 40 / r) AS n_keys, greatest(3, 200 / r) AS n_users
FROM generate_series(1, %(orgs)s) AS r;
INSERT INTO app.organizations (id, slug, name) SELECT id, 'bench-org-' || r, 'Bench org ' || r FROM bench_orgs;
INSERT INTO app.users (id, email)
SELECT md5('bench-user-' || r || '-' || u)::uuid, 'user' || u || '@org' || r || '.example.com'
FROM bench_orgs, generate_series(1, n_users) AS u;
INSERT INTO app.memberships (organization_id, user_id, role)
SELECT id, md5('bench-user-' || r || '-' || u)::uuid,
       CASE WHEN u = 1 THEN 'owner' WHEN u <= 3 THEN 'admin' WHEN mod(u, 5) = 0 THEN 'viewer' ELSE 'member' END
FROM bench_orgs, generate_series(1, n_users) AS u;
-- Every 7th key revoked, every 11th expired; the key's sha256 is of 'bench-key-<r>-<k>'.
INSERT INTO app.api_keys (id, organization_id, name, key_prefix, key_hash, scopes, created_by,
                          created_at, expires_at, revoked_at)
SELECT md5('bench-key-' || r || '-' || k)::uuid, id, 'key ' || k, 'plat_live_' || lpad(k::text, 4, '0'),
       sha256(convert_to('bench-key-' || r || '-' || k, 'UTF8')), '{usage:write}',
       md5('bench-user-' || r || '-1')::uuid, now() - interval '90 days',
       CASE WHEN mod(k, 11) = 10 THEN now() - interval '1 day' END,
       CASE WHEN mod(k, 7) = 6 THEN now() - interval '2 days' END
FROM bench_orgs, generate_series(1, n_keys) AS k;
-- Every tenant: a daily and a monthly budget; the 20 largest also monthly ones for 2 models.
INSERT INTO app.budgets (organization_id, model_id, period, token_limit, cost_limit_usd)
SELECT id, NULL, p, 1000000000, 100000 FROM bench_orgs, (VALUES ('day'), ('month')) AS t (p)
UNION ALL
SELECT id, md5('bench-model-' || m)::uuid, 'month', NULL, 5000
FROM bench_orgs, generate_series(1, 2) AS m WHERE r <= 20;
SELECT app.ensure_usage_partitions(%(start)s::date, %(end)s::date + 1);
"""

# Events first..last of `total`, evenly spread over [start, start + span) in time order. Tenant:
# rank floor(exp(U ln 101)) (Zipf-like); key: skewed to the tenant's first keys, 10 % keyless
# (console traffic); model: skewed to the cheap ones; tokens: exponential; 2 % errors.
EVENTS_SQL = """
INSERT INTO app.usage_events (occurred_at, received_at, organization_id, user_id, api_key_id, model_id,
    input_tokens, output_tokens, latency_ms, event_id, operation, status, error_code, cost_usd)
SELECT s.t, s.t + interval '200 ms', ref.org_ids[s.r],
       ref.user_ids[(s.r - 1) * 200 + 1 + floor(s.uu ^ 1.5 * ref.n_users[s.r])::int],
       CASE WHEN s.uk >= 0.1
            THEN ref.key_ids[(s.r - 1) * 40 + 1 + floor(((s.uk - 0.1) / 0.9) ^ 2 * ref.n_keys[s.r])::int] END,
       ref.model_ids[s.m], s.tin, s.tout, 150 + s.tout * 8, gen_random_uuid()::text,
       CASE WHEN s.m = 8 THEN 'embeddings' ELSE 'chat.completions' END,
       CASE WHEN s.ue < 0.02 THEN 'error' ELSE 'success' END,
       CASE WHEN s.ue < 0.01 THEN 'rate_limited' WHEN s.ue < 0.02 THEN 'upstream_timeout' END,
       round((s.tin * ref.price_in[s.m] + s.tout * ref.price_out[s.m]) / 1e6, 10)
FROM (
    SELECT %(start)s::timestamptz + (i - 1 + random()) * %(step)s::float8 * interval '1 second' AS t,
           least(%(orgs)s, floor(exp(random() * ln(%(orgs)s + 1)))::int) AS r,
           random() AS uu, random() AS uk, random() AS ue,
           1 + floor(random() ^ 2 * 8)::int AS m,
           (20 + floor(-ln(1 - random()) * 800))::int AS tin,
           (5 + floor(-ln(1 - random()) * 300))::int AS tout
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
) AS s,
(SELECT array_agg(id ORDER BY r) AS org_ids, array_agg(n_keys ORDER BY r) AS n_keys,
        array_agg(n_users ORDER BY r) AS n_users,
        (SELECT array_agg(md5('bench-key-' || o.r || '-' || k)::uuid ORDER BY o.r, k)
         FROM bench_orgs AS o, generate_series(1, 40) AS k) AS key_ids,
        (SELECT array_agg(md5('bench-user-' || o.r || '-' || u)::uuid ORDER BY o.r, u)
         FROM bench_orgs AS o, generate_series(1, 200) AS u) AS user_ids,
        (SELECT array_agg(md5('bench-model-' || m)::uuid ORDER BY m) FROM generate_series(1, 8) AS m) AS model_ids,
        '{0.15,2.5,0.8,3,0.075,1.25,2,0.02}'::numeric[] AS price_in,
        '{0.6,10,4,15,0.3,5,6,0}'::numeric[] AS price_out
 FROM bench_orgs) AS ref
"""

# -- the changes under evaluation (docs/query-contract.md, "Proposed changes") ------------------
COVERING_INDEX_SQL = """
CREATE INDEX bench_usage_events_covering ON app.usage_events (organization_id, occurred_at)
    INCLUDE (model_id, status, input_tokens, output_tokens, cost_usd)
"""
MEASURES = """
    requests bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cost_usd numeric(20, 10) NOT NULL
"""
SUMS = (
    "count(*) AS requests, count(*) FILTER (WHERE status = 'error') AS errors, "
    "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd"
)
RESUMS = "sum(requests), sum(errors), sum(input_tokens), sum(output_tokens), sum(cost_usd)"
HOURLY = f"organization_id uuid NOT NULL, hour timestamptz NOT NULL, model_id uuid NOT NULL, {MEASURES}, PRIMARY KEY (organization_id, hour, model_id)"
DAILY = f"organization_id uuid NOT NULL, day date NOT NULL, model_id uuid NOT NULL, {MEASURES}, PRIMARY KEY (organization_id, day, model_id)"
ROLLUP_SQL = f"""
CREATE TABLE app.usage_hourly ({HOURLY});
CREATE TABLE app.usage_daily ({DAILY});
ALTER TABLE app.usage_hourly ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE app.usage_daily ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_usage_hourly_tenant ON app.usage_hourly FOR ALL TO platform_app, platform_ingest
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
CREATE POLICY p_usage_daily_tenant ON app.usage_daily FOR ALL TO platform_app, platform_ingest
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
GRANT SELECT ON app.usage_hourly, app.usage_daily TO platform_app;
SET work_mem = '256MB';  -- one hash aggregate over 10M rows instead of an external sort
-- In time order, as ingestion would have appended the rows.
INSERT INTO app.usage_hourly
SELECT organization_id, date_trunc('hour', occurred_at, 'UTC'), model_id, {SUMS}
FROM app.usage_events GROUP BY 1, 2, 3 ORDER BY 2, 1, 3;
INSERT INTO app.usage_daily
SELECT organization_id, (hour AT TIME ZONE 'UTC')::date, model_id, {RESUMS}
FROM app.usage_hourly GROUP BY 1, 2, 3 ORDER BY 2, 1, 3;
RESET work_mem;
"""
ROLLUP_ORG_USAGE = """
SELECT u.hour, u.model_id, u.requests, u.errors, u.input_tokens, u.output_tokens, u.cost_usd
FROM app.usage_hourly AS u
WHERE u.organization_id = %(organization_id)s
  AND u.hour >= %(range_start)s AND u.hour < %(range_end)s
ORDER BY 1, 2
"""
# budget_consumption.sql with its usage CTE reading the daily rollup instead of raw events.
ROLLUP_BUDGET = operational("budget_consumption").replace(
    """    SELECT e.model_id,
           e.occurred_at >= %(day_start)s AS today,
           sum(e.input_tokens::bigint + e.output_tokens) AS tokens,
           sum(e.cost_usd) AS cost_usd
    FROM app.usage_events AS e
    WHERE e.organization_id = %(organization_id)s
      AND e.occurred_at >= %(month_start)s
      AND e.occurred_at < %(until)s""",
    """    SELECT e.model_id,
           e.day >= (%(day_start)s AT TIME ZONE 'UTC')::date AS today,
           sum(e.input_tokens + e.output_tokens) AS tokens,
           sum(e.cost_usd) AS cost_usd
    FROM app.usage_daily AS e
    WHERE e.organization_id = %(organization_id)s
      AND e.day >= (%(month_start)s AT TIME ZONE 'UTC')::date
      AND e.day <= (%(until)s AT TIME ZONE 'UTC')::date""",
)
assert operational("budget_consumption") != ROLLUP_BUDGET, (
    "budget_consumption.sql changed: update ROLLUP_BUDGET"
)

# Ingest cost: the same 1M events (a copy of the newest ones, in time order) inserted in
# INGEST_BATCHES set-based batches into an empty copy of one partition with each variant.
INGEST_SETUP_SQL = f"""
CREATE UNLOGGED TABLE bench_stage AS
SELECT ((row_number() OVER (ORDER BY occurred_at) - 1) / {INGEST_BATCH})::int AS batch, e.*
FROM (SELECT * FROM app.usage_events WHERE occurred_at >= '{DATA_END - timedelta(days=4)}'
      ORDER BY occurred_at DESC LIMIT {INGEST_BATCH * INGEST_BATCHES}) AS e;
CREATE INDEX ON bench_stage (batch);
ANALYZE bench_stage;
CREATE TABLE bench_hourly ({HOURLY});
CREATE TABLE bench_daily ({DAILY});
"""
EVENT_COLUMNS = (
    "occurred_at, received_at, organization_id, user_id, api_key_id, model_id, input_tokens, "
    "output_tokens, latency_ms, event_id, operation, status, error_code, cost_usd"
)
INGEST_INSERT = f"""
INSERT INTO bench_ingest ({EVENT_COLUMNS})
SELECT {EVENT_COLUMNS} FROM bench_stage WHERE batch = %(batch)s
ON CONFLICT DO NOTHING
"""


def _add_to(table: str) -> str:
    return f"ON CONFLICT ON CONSTRAINT {table}_pkey DO UPDATE SET " + ", ".join(
        f"{c} = {table}.{c} + excluded.{c}"
        for c in ("requests", "errors", "input_tokens", "output_tokens", "cost_usd")
    )


# One statement per batch: only the rows actually inserted count (a resent event is a no-op);
# the daily rows are summed from the batch's hourly ones (hundreds, not 50k); rows are upserted
# in primary-key order so concurrent ingest sessions lock shared rollup rows in the same order.
INGEST_INSERT_WITH_ROLLUPS = f"""
WITH inserted AS ({INGEST_INSERT}
    RETURNING organization_id, occurred_at, model_id, status, input_tokens, output_tokens, cost_usd),
hourly AS (
    SELECT organization_id, date_trunc('hour', occurred_at, 'UTC') AS hour, model_id,
           {SUMS}
    FROM inserted GROUP BY 1, 2, 3
),
upsert_hourly AS (
    INSERT INTO bench_hourly SELECT * FROM hourly ORDER BY 1, 2, 3 {_add_to("bench_hourly")}
)
INSERT INTO bench_daily
SELECT organization_id, (hour AT TIME ZONE 'UTC')::date, model_id, {RESUMS}
FROM hourly GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 {_add_to("bench_daily")}
"""
SHIPPED_PK = "PRIMARY KEY (organization_id, occurred_at, event_id)"
INGEST_VARIANTS = {
    "shipped (PK + key index)": (SHIPPED_PK, INGEST_INSERT),
    "PK INCLUDE (model_id, status, input_tokens, output_tokens, cost_usd)": (
        SHIPPED_PK + " INCLUDE (model_id, status, input_tokens, output_tokens, cost_usd)",
        INGEST_INSERT,
    ),
    "shipped + usage_hourly and usage_daily upserts": (SHIPPED_PK, INGEST_INSERT_WITH_ROLLUPS),
}


@dataclass(frozen=True)
class Org:
    rank: int
    id: str
    n_keys: int
    n_users: int


@dataclass
class Result:
    query: str
    shape: str
    tenants: str
    samples: list[float]

    def row(self) -> str:
        p = statistics.quantiles(self.samples, n=100, method="inclusive")
        ok = "yes" if p[94] <= TARGET_MS else "**no**"
        return (
            f"| {self.query} | {self.shape} | {self.tenants} | {len(self.samples)} | "
            f"{p[49]:.2f} | {p[94]:.2f} | {p[98]:.2f} | {ok} |"
        )


TABLE_HEAD = [
    "| query | shape | tenants | runs | p50 ms | p95 ms | p99 ms | p95 ≤ 5 ms |",
    "|---|---|---|---:|---:|---:|---:|---|",
]


def generate(url: str) -> float:
    started = time.perf_counter()
    start = DATA_END - timedelta(days=DAYS)
    setup = {"start": start, "end": DATA_END, "orgs": ORGS}
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute(SETUP_SQL, setup)  # client-side binding: several statements in one
    step = DAYS * 86400 / EVENTS  # seconds between consecutive events

    def chunk(first: int) -> None:
        params = {"start": start, "step": step, "orgs": ORGS, "first": first}
        params["last"] = min(first + CHUNK - 1, EVENTS)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(EVENTS_SQL, params)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(chunk, range(1, EVENTS + 1, CHUNK)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def load_orgs(url: str) -> list[Org]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT r, id::text, n_keys, n_users FROM bench_orgs ORDER BY r")
        return [Org(*row) for row in rows]


class Draw:
    """Parameter draws: a tenant uniformly (or the largest), then the query's parameters."""

    def __init__(self, orgs: list[Org]) -> None:
        self.orgs = orgs
        self.rng = random.Random(SEED)
        self.first_hour = DATA_END - timedelta(days=DAYS) + timedelta(hours=1)
        self.last_hour = DATA_END.replace(minute=0)

    def org(self, largest: bool) -> Org:
        return self.orgs[0] if largest else self.rng.choice(self.orgs)

    def key_id(self, org: Org) -> str:
        k = self.rng.randint(1, org.n_keys)
        return _md5_uuid(f"bench-key-{org.rank}-{k}")

    def key_lookup(self, org: Org) -> dict:
        # 5 % unknown keys (typos, scanners); the rest spread over the tenant's keys.
        k = self.rng.randint(1, org.n_keys) if self.rng.random() >= 0.05 else 0
        return {"key_hash": hashlib.sha256(f"bench-key-{org.rank}-{k}".encode()).digest()}

    def membership(self, org: Org) -> dict:
        user = self.rng.randint(1, org.n_users)
        user_id = _md5_uuid(f"bench-user-{org.rank}-{user}")
        return {"organization_id": org.id, "user_id": user_id, "roles": ["owner", "admin"]}

    def usage(self, org: Org, hours: int) -> dict:
        span = int((self.last_hour - self.first_hour).total_seconds() // 3600) - hours
        start = self.first_hour + timedelta(hours=self.rng.randint(0, span))
        return {
            "organization_id": org.id,
            "range_start": start,
            "range_end": start + timedelta(hours=hours),
        }

    def latest(self, org: Org) -> dict:
        return {
            "organization_id": org.id,
            "api_key_id": self.key_id(org),
            "since": DATA_END - timedelta(days=31),
            "before": DATA_END,
            "limit_rows": 50,
        }

    def budget(self, org: Org) -> dict:
        return {"organization_id": org.id, **budget_periods(DATA_END)}


def _md5_uuid(text: str) -> str:
    h = hashlib.md5(text.encode()).hexdigest()  # the generator's md5(text)::uuid
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def measure(
    conn: psycopg.Connection, sql: str, draw: Callable[[], dict], runs: int, tenant: bool = True
) -> list[float]:
    """Milliseconds of execute + fetch for `runs` draws, after WARMUP unmeasured ones."""
    samples = []
    for i in range(WARMUP + runs):
        params = draw()
        org = params.get("organization_id")
        with tenant_transaction(conn, org) if tenant else conn.transaction():
            started = time.perf_counter()
            conn.execute(sql, params).fetchall()
            elapsed = (time.perf_counter() - started) * 1000
        if i >= WARMUP:
            samples.append(elapsed)
    return samples


def run_queries(app: psycopg.Connection, d: Draw, variant: str | None = None) -> list[Result]:
    """The contract queries for all tenants and for the largest; for a variant (covering index,
    rollups) only the aggregations, rewritten to read the rollups for "rollup"."""
    rollup = variant == "rollup"
    usage = ROLLUP_ORG_USAGE if rollup else operational("org_usage")
    budget = ROLLUP_BUDGET if rollup else operational("budget_consumption")
    usage_name = {"rollup": "org_usage (usage_hourly)", "covering": "org_usage (covering index)"}
    budget_name = {
        "rollup": "budget_consumption (usage_daily)",
        "covering": "budget_consumption (covering index)",
    }
    cases = (
        []
        if variant
        else [
            (
                "key_lookup",
                "by sha256, 5 % unknown",
                operational("key_lookup"),
                d.key_lookup,
                False,
            ),
            (
                "membership_check",
                "one user, roles {owner,admin}",
                operational("membership_check"),
                d.membership,
                False,
            ),
            (
                "key_latest_events",
                "50 newest, 31-day window",
                operational("key_latest_events"),
                d.latest,
                False,
            ),
        ]
    )
    cases += [
        (
            usage_name.get(variant, "org_usage"),
            "1 h, per hour x model",
            usage,
            lambda o: d.usage(o, 1),
            False,
        ),
        (
            usage_name.get(variant, "org_usage"),
            "24 h, per hour x model",
            usage,
            lambda o: d.usage(o, 24),
            not rollup,
        ),
        (
            budget_name.get(variant, "budget_consumption"),
            "month so far (27.5 d) + today",
            budget,
            d.budget,
            not rollup,
        ),
    ]
    results = []
    for name, shape, sql, draw, heavy in cases:
        for largest in (
            (False, True) if name not in ("key_lookup", "membership_check") else (False,)
        ):
            runs = ITERATIONS if not heavy else LARGEST_ITERATIONS if largest else HEAVY_ITERATIONS
            params = lambda draw=draw, largest=largest: draw(d.org(largest))  # noqa: E731
            samples = measure(app, sql, params, runs, tenant=name != "key_lookup")
            label = "largest (15 %)" if largest else "uniform over 100"
            results.append(Result(name, shape, label, samples))
            print(results[-1].row(), flush=True)
    return results


def backend_cpu_seconds(conn: psycopg.Connection) -> float | None:
    """User + system CPU of the connection's server process so far, from its /proc entry; None
    when the server is not on this machine."""
    try:
        stat = Path(f"/proc/{conn.info.backend_pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # fields 3.. of proc(5): utime, stime are 14, 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest_cost(url: str) -> list[str]:
    """Rows for the ingest-cost table: events/s, server CPU, WAL and index bytes per event.

    Variants run interleaved, INGEST_ROUNDS times. Other sessions on a shared server only ever
    lower the rate and add CPU (caches) and WAL (pg_current_wal_lsn is server-wide), so each
    variant keeps its highest rate and its lowest CPU and WAL."""
    events = INGEST_BATCH * INGEST_BATCHES
    best: dict[str, dict[str, float]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(INGEST_SETUP_SQL)
        for _ in range(INGEST_ROUNDS):
            for label, (pk, insert) in INGEST_VARIANTS.items():
                conn.execute(
                    "DROP TABLE IF EXISTS bench_ingest; TRUNCATE bench_hourly, bench_daily"
                )
                conn.execute(
                    "CREATE TABLE bench_ingest (LIKE app.usage_events INCLUDING DEFAULTS "
                    f"INCLUDING CONSTRAINTS, {pk})"
                )
                conn.execute(
                    "CREATE INDEX ON bench_ingest (api_key_id, occurred_at DESC) "
                    "WHERE api_key_id IS NOT NULL"
                )
                conn.execute("CHECKPOINT")  # no variant pays for the previous one's dirty pages
                wal_before = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
                cpu_before = backend_cpu_seconds(conn)
                started = time.perf_counter()
                for batch in range(INGEST_BATCHES):
                    with conn.transaction():
                        conn.execute(insert, {"batch": batch})
                seconds = time.perf_counter() - started
                cpu_after = backend_cpu_seconds(conn)
                wal, index_bytes = conn.execute(
                    "SELECT pg_current_wal_lsn() - %s::pg_lsn, pg_indexes_size('bench_ingest')",
                    (wal_before,),
                ).fetchone()
                run = {
                    "rate": events / seconds,
                    "cpu_us": (cpu_after - cpu_before) * 1e6 / events
                    if cpu_after
                    else float("nan"),
                    "wal": float(wal) / events,
                    "index": index_bytes / events,
                }
                print(f"ingest {label}: {run}", flush=True)
                if label not in best:
                    best[label] = run
                else:
                    b = best[label]
                    b["rate"] = max(b["rate"], run["rate"])
                    b["cpu_us"], b["wal"] = (
                        min(b["cpu_us"], run["cpu_us"]),
                        min(b["wal"], run["wal"]),
                    )
        conn.execute("DROP TABLE bench_ingest, bench_stage, bench_hourly, bench_daily")
    return [
        f"| {label} | {b['rate']:,.0f} | {b['cpu_us']:.1f} | {b['wal']:.0f} | {b['index']:.0f} |"
        for label, b in best.items()
    ]


def index_sizes(url: str) -> str:
    with psycopg.connect(url) as conn:
        heap, pk, key, covering = conn.execute(
            """
            SELECT sum(pg_relation_size(c.oid)) FILTER (WHERE c.relkind = 'r'),
                   sum(pg_relation_size(c.oid)) FILTER (WHERE c.relname LIKE '%_pkey'),
                   sum(pg_relation_size(c.oid)) FILTER (WHERE c.relname LIKE '%api_key_id%'),
                   sum(pg_relation_size(c.oid)) FILTER (WHERE c.relname LIKE '%organization_id%')
            FROM pg_class AS c WHERE c.relname LIKE 'usage_events_p%'
            """
        ).fetchone()
    mib = 1024 * 1024
    text = f"heap {heap / mib:,.0f} MiB, primary key {pk / mib:,.0f} MiB, key index {key / mib:,.0f} MiB"
    return text + (f", covering index {covering / mib:,.0f} MiB" if covering else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="an already generated database: skip generation")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.database:
        report(args.database, None)
        return
    # The bench's migration runs need no spans.
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    with scratch_database(config.target("operational").url()) as url:
        Runner("operational", config=config, url=url, actor="bench").up()
        seconds = generate(url)
        print(f"generated {EVENTS:,} events in {seconds:.0f} s", flush=True)
        report(url, seconds)
    print(f"total {time.perf_counter() - started:.0f} s")


def report(url: str, generate_seconds: float | None) -> None:
    started = time.perf_counter()
    orgs = load_orgs(url)
    d = Draw(orgs)
    sizes = index_sizes(url)
    app_url = make_conninfo(url, user="platform_app")
    with psycopg.connect(url, autocommit=True) as conn:
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE organization_id = %s) FROM app.usage_events",
            (orgs[0].id,),
        ).fetchone()
    with psycopg.connect(app_url) as app:
        shipped = run_queries(app, d)
    with psycopg.connect(url, autocommit=True) as conn:
        t = time.perf_counter()
        conn.execute(COVERING_INDEX_SQL)
        covering_build = time.perf_counter() - t
    with psycopg.connect(app_url) as app:
        covering = run_queries(app, d, "covering")
    covering_sizes = index_sizes(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX app.bench_usage_events_covering")
        t = time.perf_counter()
        conn.execute(ROLLUP_SQL)
        conn.execute("VACUUM ANALYZE app.usage_hourly")
        conn.execute("VACUUM ANALYZE app.usage_daily")
        rollup_build = time.perf_counter() - t
        rollup_rows = conn.execute(
            "SELECT (SELECT count(*) FROM app.usage_hourly), (SELECT count(*) FROM app.usage_daily)"
        ).fetchone()
    with psycopg.connect(app_url) as app:
        rollup = run_queries(app, d, "rollup")
    ingest = ingest_cost(url)
    measure_seconds = time.perf_counter() - started

    generated = (
        f"Generated in {generate_seconds:.0f} s ({EVENTS / generate_seconds:,.0f} events/s, "
        f"{WORKERS} sessions, including VACUUM ANALYZE)"
        if generate_seconds
        else "Reused database (--database)"
    )
    lines = [
        "## Operational query contract",
        "",
        "Command: `make bench` (`PYTHONPATH=. .venv/bin/python tests/perf/bench_operational_queries.py`).",
        f"Environment: {environment_line()}; server defaults (shared_buffers 128 MB, work_mem 4 MB).",
        "",
        f"Dataset: {counts[0]:,} usage events over {DAYS} days up to {DATA_END:%Y-%m-%d %H:%M} UTC "
        f"(daily partitions), {ORGS} organizations with Zipf-like traffic (the largest has "
        f"{counts[1]:,} events, 15 %; the median one ~0.4 %), 2–40 keys and 3–200 members per "
        "organization, 8 models; written in time order as ingestion would, so a tenant's rows "
        f"are spread over its partitions' pages. {sizes}. {generated}.",
        "",
        "Method: each query from `dagster_project/lib/queries/operational/` runs as `platform_app` "
        "(key_lookup without a tenant, the others inside `tenant_transaction`, so RLS applies), "
        f"{WARMUP} warm-up runs then the measured ones, parameters drawn per run (tenant "
        "uniformly over the 100, or the largest tenant only; range starts, keys and users at "
        "random). Time = execute + fetch of the query alone (the tenant transaction's BEGIN, "
        "set_config and COMMIT add three round trips). psycopg prepares a statement after 5 "
        f"runs, as a service would. Measurement took {measure_seconds:.0f} s.",
        "",
        "### Shipped schema",
        "",
        *TABLE_HEAD,
        *(r.row() for r in shipped),
        "",
        "### Proposed changes (see docs/query-contract.md)",
        "",
        f"Covering index `(organization_id, occurred_at) INCLUDE (model_id, status, input_tokens, "
        f"output_tokens, cost_usd)` built on the {counts[0]:,} events in {covering_build:.0f} s "
        f"({covering_sizes}): index-only aggregation, a stand-in for INCLUDE on the primary key.",
        "",
        "Rollups `app.usage_hourly` (organization_id, hour, model_id) and `app.usage_daily` "
        "(organization_id, day, model_id), each → requests, errors, input/output tokens, cost: "
        f"{rollup_rows[0]:,} and {rollup_rows[1]:,} rows, built from the events in "
        f"{rollup_build:.0f} s. org_usage reads the hourly one, budget_consumption the daily one.",
        "",
        *TABLE_HEAD,
        *(r.row() for r in covering + rollup),
        "",
        f"Ingest cost: {INGEST_BATCH * INGEST_BATCHES:,} events (the newest, in time order) "
        f"inserted in {INGEST_BATCHES} set-based batches of {INGEST_BATCH:,} (`INSERT ... SELECT "
        "... ON CONFLICT DO NOTHING`, one transaction each, one session) into an empty copy of "
        f"a partition with the key index and each variant; {INGEST_ROUNDS} interleaved rounds, "
        "each variant's best rate and least server CPU (user + system of the session's backend) "
        "and WAL: the server is shared, and other sessions only ever lower the first and add to "
        "the others. The rate is the noisiest: read the CPU and bytes columns for the cost. WAL "
        "includes the full-page images after the checkpoint each run starts with.",
        "",
        "| variant | events/s | server CPU µs/event | WAL bytes/event | index bytes/event |",
        "|---|---:|---:|---:|---:|",
        *ingest,
    ]
    path = write_section("operational-queries", "\n".join(lines))
    print("\n".join(lines))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
