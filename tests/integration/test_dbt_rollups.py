"""The dbt project (dbt/) on both warehouse targets: every mart row equals an independent Python
recomputation from the landing events, through a full build, ranged re-rolls, a late event and a
group that vanishes from an hour.

Per target, one warehouse (a DuckDB temp file, or a fresh PostgreSQL database) is migrated with
the analytics migrations, filled with generated landing rows and taken through one scenario of
dbt runs (module-scoped: dbt parses for seconds each time); the tests then check its snapshots:

  full       dbt build, no ranges (everything), build b-full
  ranged     dbt build of two hour ranges (one per day), build b-ranged
  rerun      the same ranges again, build b-rerun: identical but for those build_ids
  late       landing changes (a group deleted from hour 6, a late event into hour 7, one
             event moved), dbt build of [06:00, 08:00), build b-late
  refused    dbt run of the marts alone with another build_id: fails, marts unchanged
  staging    dbt run of the staging views alone: the analyst views over them stay
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import re
import subprocess
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import psycopg
import pytest

from dagster_project.lib.db import postgres
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.runner import Runner
from dagster_project.lib.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow

DBT = PROJECT_ROOT / ".venv" / "bin" / "dbt"
DBT_DIR = PROJECT_ROOT / "dbt"
DOCS = PROJECT_ROOT / "docs" / "analytics.md"
TARGETS = ["duckdb", "postgres"]

DAY0 = datetime(2026, 11, 30, tzinfo=UTC)
HOURS = 48
HOUR = timedelta(hours=1)
RANGES = [(DAY0 + 5 * HOUR, DAY0 + 8 * HOUR), (DAY0 + 30 * HOUR, DAY0 + 31 * HOUR)]
LATE_RANGE = (DAY0 + 6 * HOUR, DAY0 + 8 * HOUR)

HOURLY = "marts.usage_hourly"
DAILY = "marts.usage_daily"
BREAKDOWN = "marts.usage_daily_breakdown"
MARTS = (HOURLY, DAILY, BREAKDOWN)
KEYS = {
    HOURLY: ("hour_start", "organization_id", "model_id"),
    DAILY: ("day", "organization_id", "model_id"),
    BREAKDOWN: ("day", "organization_id", "model_id", "api_key_id", "user_id", "operation"),
}


def uid(kind: int, n: int) -> uuid.UUID:
    return uuid.UUID(int=(kind << 64) | n)


# -- generated landing data ---------------------------------------------------------------------


@dataclasses.dataclass
class Landing:
    organizations: list[tuple]
    users: list[tuple]
    api_keys: list[tuple]
    models: list[tuple]
    budgets: list[tuple]
    events: list[dict]


EVENT_COLUMNS = (
    "occurred_at", "received_at", "organization_id", "user_id", "api_key_id", "model_id",
    "input_tokens", "output_tokens", "latency_ms", "event_id", "operation", "status",
    "error_code", "cost_usd", "metadata_pseudonym",
)  # fmt: skip


def _columns(table: str) -> str:
    """The column list of an insert into `table`: the events name theirs (the token categories'
    columns keep their defaults: envelope-1.0 events), the dimensions fill every column."""
    return f" ({', '.join(EVENT_COLUMNS)})" if table == "landing.usage_events" else ""


def generate() -> Landing:
    """Deterministic: 3 organizations, 3 models, keys and users (nullable on events), errors,
    events on hour boundaries and the last microsecond of a day, tied latencies."""
    rnd = random.Random(8)
    created = datetime(2026, 11, 1, tzinfo=UTC)
    orgs = [(uid(1, i), f"org-{i}", f"{i:064x}", "active", created) for i in range(3)]
    users = [(uid(2, i), f"{i:064x}", None, created) for i in range(4)]
    keys = [
        (uid(3, 10 * o + k), orgs[o][0], f"key {o}.{k}", f"pk_{o}{k}xx", ["usage:write"],
         None, created, None, None, None)
        for o in range(3) for k in range(2)
    ]  # fmt: skip
    models = [
        (uid(4, 0), "openai", "gpt-4o", "2024-08-06", 128000, "active", created),
        (uid(4, 1), "anthropic", "claude-sonnet", "4.5", 200000, "active", created),
        (uid(4, 2), "mistral", "small", "3", 32000, "deprecated", created),
    ]
    events: list[dict] = []
    for hour in range(HOURS):
        start = DAY0 + hour * HOUR
        for org in orgs:
            for model in rnd.sample(models, rnd.randint(1, 3)):
                for _ in range(rnd.randint(1, 9)):
                    offset = timedelta(microseconds=rnd.randrange(3_600_000_000))
                    occurred = start + offset
                    failed = rnd.random() < 0.15
                    key = rnd.choice([k for k in keys if k[1] == org[0]] + [None])
                    events.append(
                        {
                            "occurred_at": occurred,
                            "received_at": occurred + timedelta(seconds=rnd.randint(0, 7200)),
                            "organization_id": org[0],
                            "user_id": rnd.choice([u[0] for u in users] + [None]),
                            "api_key_id": key[0] if key else None,
                            "model_id": model[0],
                            "input_tokens": rnd.randint(0, 4000),
                            "output_tokens": 0 if failed else rnd.randint(1, 2000),
                            "latency_ms": rnd.choice([100, 250, 250, rnd.randint(1, 9000)]),
                            "event_id": f"e-{len(events)}",
                            "operation": rnd.choice(
                                ["chat.completions", "embeddings", "responses"]
                            ),
                            "status": "error" if failed else "success",
                            "error_code": "rate_limited" if failed else None,
                            "cost_usd": Decimal(rnd.randint(0, 10**9)).scaleb(-10),
                            "metadata_pseudonym": None,
                        }
                    )
    # Edges: exactly on an hour, the last microsecond of day 0, the first of day 1.
    for n, moment in enumerate(
        [DAY0 + 3 * HOUR, DAY0 + 24 * HOUR - timedelta(microseconds=1), DAY0 + 24 * HOUR]
    ):
        events.append({**events[n], "occurred_at": moment, "event_id": f"edge-{n}"})
    tokens0 = sum(
        e["input_tokens"] + e["output_tokens"]
        for e in events
        if e["organization_id"] == orgs[0][0] and e["occurred_at"] < DAY0 + 24 * HOUR
    )
    cost1 = sum(
        (e["cost_usd"] for e in events
         if e["organization_id"] == orgs[1][0] and e["model_id"] == models[1][0]
         and e["occurred_at"] >= DAY0 + 24 * HOUR),
        Decimal(0),
    )  # fmt: skip
    budgets = [
        # November's tokens of org 0 exactly: share 1.0, hard threshold reached (exact compare).
        (uid(5, 0), orgs[0][0], None, "month", tokens0, None, Decimal("0.800"), Decimal("1.000"), created),
        # Per day, one model, cost: day 1 at ~90% of the limit (soft, not hard).
        (uid(5, 1), orgs[1][0], models[1][0], "day", None, (cost1 / Decimal("0.9")).quantize(Decimal("0.0001")),
         Decimal("0.800"), Decimal("0.950"), created),
        # Created on day 1: day 0 is not one of its periods.
        (uid(5, 2), orgs[2][0], None, "day", 10**9, Decimal("1000.0000"), Decimal("0.500"), Decimal("1.000"),
         DAY0 + 24 * HOUR + HOUR),
    ]  # fmt: skip
    return Landing(orgs, users, keys, models, budgets, events)


def mutate(landing: Landing) -> None:
    """What a later load brings: the (org 0, model 0) group of hour 6 is gone, a late event lands
    in hour 7 under a new group, and one event moves from hour 6 to hour 7."""
    org0, model0 = landing.organizations[0][0], landing.models[0][0]
    six, seven = DAY0 + 6 * HOUR, DAY0 + 7 * HOUR
    in_six = [e for e in landing.events if six <= e["occurred_at"] < seven]
    assert any(e["organization_id"] == org0 and e["model_id"] == model0 for e in in_six), (
        "the generator must put org 0 / model 0 into hour 6"
    )
    landing.events = [
        e
        for e in landing.events
        if not (
            six <= e["occurred_at"] < seven
            and e["organization_id"] == org0
            and e["model_id"] == model0
        )
    ]
    moved = next(e for e in landing.events if six <= e["occurred_at"] < seven)
    moved["occurred_at"] += HOUR
    template = landing.events[0]
    landing.events.append(
        {
            **template,
            "occurred_at": seven + timedelta(minutes=59, seconds=59),
            "received_at": DAY0 + 40 * HOUR,
            "organization_id": landing.organizations[2][0],
            "model_id": landing.models[2][0],
            "api_key_id": None,
            "user_id": None,
            "operation": "late.replay",
            "event_id": "late-1",
            "cost_usd": Decimal("0.0000000001"),
        }
    )


# -- the independent recomputation ---------------------------------------------------------------


def percentile(values: list[int], fraction: str) -> float:
    """The exact continuous percentile (linear interpolation between the closest ranks, as
    PostgreSQL's percentile_cont), in exact rational arithmetic, then the nearest double."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * Fraction(fraction)
    low, high = math.floor(position), math.ceil(position)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def model_names(landing: Landing) -> dict[uuid.UUID, str]:
    return {m[0]: f"{m[1]}/{m[2]}@{m[3]}" for m in landing.models}


def expected_rollup(landing: Landing, grain: str) -> dict[tuple, tuple]:
    """{key: measures} for usage_hourly (grain 'hour') or usage_daily ('day')."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for e in landing.events:
        bucket = (
            floor_hour(e["occurred_at"])
            if grain == "hour"
            else e["occurred_at"].astimezone(UTC).date()
        )
        groups[(bucket, e["organization_id"], e["model_id"])].append(e)
    names = model_names(landing)
    result = {}
    for key, events in groups.items():
        failed = sum(e["status"] != "success" for e in events)
        latencies = [e["latency_ms"] for e in events]
        result[key] = (
            names[key[2]],
            len(events),
            len(events) - failed,
            failed,
            sum(e["input_tokens"] for e in events),
            sum(e["output_tokens"] for e in events),
            sum((e["cost_usd"] for e in events), Decimal(0)),
            percentile(latencies, "0.5"),
            percentile(latencies, "0.95"),
        )
    return result


def expected_breakdown(landing: Landing) -> dict[tuple, tuple]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for e in landing.events:
        key = (
            e["occurred_at"].astimezone(UTC).date(), e["organization_id"], e["model_id"],
            e["api_key_id"], e["user_id"], e["operation"],
        )  # fmt: skip
        groups[key].append(e)
    return {
        key: (
            len(events),
            sum(e["status"] != "success" for e in events),
            sum(e["input_tokens"] for e in events),
            sum(e["output_tokens"] for e in events),
            sum((e["cost_usd"] for e in events), Decimal(0)),
        )
        for key, events in groups.items()
    }


# -- one warehouse per target ---------------------------------------------------------------------


@dataclasses.dataclass
class Warehouse:
    target: str
    url: str  # duckdb:////abs/path or postgresql://...
    work: Path  # target path and logs
    landing: Landing = dataclasses.field(default_factory=generate)
    snapshots: dict[str, dict[str, dict[tuple, tuple]]] = dataclasses.field(default_factory=dict)
    runs: dict[str, subprocess.CompletedProcess] = dataclasses.field(default_factory=dict)
    expected: dict[str, Landing] = dataclasses.field(default_factory=dict)

    # SQL access (a DuckDB handle only between dbt runs: one process may hold the file)
    def query(self, sql: str, *, role_url: str | None = None) -> list[tuple]:
        if self.target == "duckdb":
            with duckdb.connect(self.url.removeprefix("duckdb:///"), read_only=True) as conn:
                return conn.execute(sql).fetchall()
        with psycopg.connect(role_url or self.url) as conn:
            return conn.execute(sql).fetchall()

    def execute(self, sql: str) -> None:
        if self.target == "duckdb":
            with duckdb.connect(self.url.removeprefix("duckdb:///")) as conn:
                conn.execute(sql)
        else:
            with psycopg.connect(self.url) as conn:
                conn.execute(sql)

    def write_landing(self) -> None:
        """Replace every landing table's rows with self.landing."""
        tables = {
            "landing.organizations": self.landing.organizations,
            "landing.users": self.landing.users,
            "landing.api_keys": self.landing.api_keys,
            "landing.model_registry": self.landing.models,
            "landing.budgets": self.landing.budgets,
            "landing.usage_events": [
                tuple(e[c] for c in EVENT_COLUMNS) for e in self.landing.events
            ],
        }
        if self.target == "duckdb":
            with duckdb.connect(self.url.removeprefix("duckdb:///")) as conn:
                conn.execute("BEGIN")
                for table, rows in tables.items():
                    conn.execute(f"DELETE FROM {table}")
                    marks = ", ".join("?" * len(rows[0]))
                    conn.executemany(f"INSERT INTO {table}{_columns(table)} VALUES ({marks})", rows)
                conn.execute("COMMIT")
            return
        with psycopg.connect(self.url) as conn, conn.cursor() as cur:
            for table, rows in tables.items():
                cur.execute(f"DELETE FROM {table}")
                with cur.copy(f"COPY {table}{_columns(table)} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    def dbt(self, name: str, command: list[str], ranges: list[tuple] | None, build_id: str):
        dbt_vars = {
            "rollup_ranges": [[s.isoformat(), e.isoformat()] for s, e in ranges or []],
            "build_id": build_id,
        }
        proc = run_dbt(self, command, dbt_vars, log_path=self.work / f"logs_{name}")
        self.runs[name] = proc
        return proc

    def snapshot(self, name: str) -> None:
        self.snapshots[name] = {
            table: {
                row[: len(KEYS[table])]: row[len(KEYS[table]) :]
                for row in map(normalize, self.query(f"SELECT {columns(table)} FROM {table}"))
            }
            for table in MARTS
        }
        self.expected[name] = dataclasses.replace(
            self.landing, events=[dict(e) for e in self.landing.events]
        )


def columns(table: str) -> str:
    measures = {
        HOURLY: "model, requests, successful_requests, failed_requests, input_tokens, output_tokens, cost_usd, latency_ms_p50, latency_ms_p95, build_id",
        BREAKDOWN: "requests, failed_requests, input_tokens, output_tokens, cost_usd, build_id",
    }
    return ", ".join(KEYS[table]) + ", " + measures.get(table, measures[HOURLY])


def normalize(row: tuple) -> tuple:
    return tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row)


def dbt_env(target: str, url: str) -> dict[str, str]:
    env = {**os.environ, "DBT_TARGET": target, "DO_NOT_TRACK": "1"}
    if target == "duckdb":
        return {**env, "DBT_DUCKDB_PATH": url.removeprefix("duckdb:///")}
    parts = urlsplit(postgres.normalize_url(url))
    return {
        **env,
        "DBT_PG_HOST": parts.hostname or "127.0.0.1",
        "DBT_PG_PORT": str(parts.port or 5432),
        "DBT_PG_USER": unquote(parts.username or "postgres"),
        "DBT_PG_PASSWORD": unquote(parts.password or ""),
        "DBT_PG_DBNAME": parts.path.lstrip("/"),
    }


def run_dbt(
    wh: Warehouse, command: list[str], dbt_vars: dict, *, log_path: Path
) -> subprocess.CompletedProcess:
    args = [
        str(DBT), *command,
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target", wh.target, "--target-path", str(wh.work / f"target_{wh.target}"),
        "--log-path", str(log_path), "--vars", json.dumps(dbt_vars),
    ]  # fmt: skip
    return subprocess.run(
        args,
        env=dbt_env(wh.target, wh.url),
        cwd=DBT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )


def must(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"dbt failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


def migrate(url: str) -> None:
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    Runner("analytics", config=config, url=url, actor="test-dbt").up()


def new_database(server_url: str) -> str:
    """A new empty database named like tests/conftest.py's (`test_<pid>_<hex8>`)."""
    url = postgres.with_database(server_url, f"test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    if not postgres.ensure_database(url):
        raise RuntimeError(f"test database {postgres.database_name(url)} already existed")
    return url


@pytest.fixture(scope="module", params=TARGETS)
def scenario(request, tmp_path_factory) -> Iterator[Warehouse]:
    """The warehouse of one target after the whole scenario (module docstring), with snapshots.
    Module-scoped: dbt runs 6 times per target, not per test."""
    target = request.param
    work = tmp_path_factory.mktemp(f"dbt_{target}")
    if target == "duckdb":
        url = f"duckdb:///{work / 'warehouse.duckdb'}"
    else:
        url = new_database(request.getfixturevalue("pg_server_url"))
    try:
        migrate(url)
        wh = Warehouse(target, url, work)
        wh.write_landing()

        must(wh.dbt("full", ["build"], None, "b-full"))
        wh.snapshot("full")
        must(wh.dbt("ranged", ["build"], RANGES, "b-ranged"))
        wh.snapshot("ranged")
        must(wh.dbt("rerun", ["build"], RANGES, "b-rerun"))
        wh.snapshot("rerun")

        mutate(wh.landing)
        wh.write_landing()
        must(wh.dbt("late", ["build"], [LATE_RANGE], "b-late"))
        wh.snapshot("late")

        # The marts alone, with a build_id the increment was not built with: refused.
        wh.dbt("refused_marker", ["run", "--select", "usage_hourly"], [LATE_RANGE], "b-other")
        # The marker matches, but the increment holds another build's rows: refused too.
        wh.execute("UPDATE increment.usage_hourly_increment SET build_id = 'b-stale'")
        wh.dbt("refused_rows", ["run", "--select", "usage_hourly"], [LATE_RANGE], "b-late")
        wh.snapshot("refused")

        # Rebuilding the staging views alone (as a run that stops at a failed check would).
        must(wh.dbt("staging_only", ["run", "--select", "staging"], [LATE_RANGE], "b-staging"))
        yield wh
    finally:
        if target == "postgres":
            postgres.drop_database(url)


# -- the tests --------------------------------------------------------------------------------------


def in_ranges(moment: datetime, ranges: list[tuple[datetime, datetime]]) -> bool:
    return any(start <= moment < end for start, end in ranges)


def days_of(ranges: list[tuple[datetime, datetime]]) -> set[date]:
    days = set()
    for start, end in ranges:
        moment = start
        while moment < end:
            days.add(moment.date())
            moment += HOUR
    return days


def values(snapshot: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """The rows without their build_id (the last column)."""
    return {key: row[:-1] for key, row in snapshot.items()}


def build_ids(snapshot: dict[tuple, tuple]) -> dict[tuple, str]:
    return {key: row[-1] for key, row in snapshot.items()}


@pytest.mark.parametrize("state", ["full", "ranged", "rerun", "late"])
def test_every_mart_row_equals_the_recomputation(scenario: Warehouse, state: str):
    marts = scenario.snapshots[state]
    landing = scenario.expected[state]
    assert values(marts[HOURLY]) == expected_rollup(landing, "hour")
    assert values(marts[DAILY]) == expected_rollup(landing, "day")
    assert values(marts[BREAKDOWN]) == expected_breakdown(landing)
    # Not vacuous: several organizations, models, errors, NULL keys.
    assert len(marts[HOURLY]) > 100
    assert any(key[3] is None for key in marts[BREAKDOWN])
    assert any(key[4] is None for key in marts[BREAKDOWN])
    assert sum(row[3] for row in marts[HOURLY].values()) > 0  # failed requests


def test_cost_is_exact_decimal_38_10(scenario: Warehouse):
    hourly = scenario.snapshots["late"][HOURLY]
    costs = [row[6] for row in hourly.values()]
    assert all(isinstance(cost, Decimal) for cost in costs)
    assert all(cost.as_tuple().exponent == -10 for cost in costs)
    assert sum(costs) == sum((e["cost_usd"] for e in scenario.expected["late"].events), Decimal(0))


def test_ranges_rebuild_only_their_hours_and_days(scenario: Warehouse):
    full, ranged = scenario.snapshots["full"], scenario.snapshots["ranged"]
    for key, build in build_ids(ranged[HOURLY]).items():
        assert build == ("b-ranged" if in_ranges(key[0], RANGES) else "b-full"), key
    assert {b for b in build_ids(full[HOURLY]).values()} == {"b-full"}
    for table in (DAILY, BREAKDOWN):
        for key, build in build_ids(ranged[table]).items():
            assert build == ("b-ranged" if key[0] in days_of(RANGES) else "b-full"), key

    rerun, late = scenario.snapshots["rerun"], scenario.snapshots["late"]
    late_hours = [LATE_RANGE]
    for key, build in build_ids(late[HOURLY]).items():
        assert build == ("b-late" if in_ranges(key[0], late_hours) else rerun[HOURLY][key][-1]), key
    for table in (DAILY, BREAKDOWN):
        for key, build in build_ids(late[table]).items():
            if key[0] in days_of(late_hours):
                assert build == "b-late", key
            else:
                assert late[table][key] == rerun[table][key], key  # untouched, values and build


def test_rerun_of_the_same_ranges_changes_nothing(scenario: Warehouse):
    ranged, rerun = scenario.snapshots["ranged"], scenario.snapshots["rerun"]
    for table in MARTS:
        assert values(rerun[table]) == values(ranged[table]), table
    assert "b-rerun" in build_ids(rerun[HOURLY]).values()


def test_a_group_that_left_an_hour_leaves_the_marts(scenario: Warehouse):
    org0, model0 = scenario.landing.organizations[0][0], scenario.landing.models[0][0]
    gone = (DAY0 + 6 * HOUR, org0, model0)
    assert gone in scenario.snapshots["rerun"][HOURLY]
    assert gone not in scenario.snapshots["late"][HOURLY]
    late_group = (
        DAY0 + 7 * HOUR,
        scenario.landing.organizations[2][0],
        scenario.landing.models[2][0],
    )
    assert late_group in scenario.snapshots["late"][HOURLY]
    assert any(key[5] == "late.replay" for key in scenario.snapshots["late"][BREAKDOWN])


def test_daily_is_the_sum_of_its_hours(scenario: Warehouse):
    late = scenario.snapshots["late"]
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal(0)])
    for (hour, org, model), row in late[HOURLY].items():
        total = sums[(hour.date(), org, model)]
        for i, value in enumerate(row[1:7]):
            total[i] += value
    assert {key: tuple(row[1:7]) for key, row in late[DAILY].items()} == {
        key: tuple(total) for key, total in sums.items()
    }


def test_publication_is_refused_for_another_build(scenario: Warehouse):
    for name, expected in (
        ("refused_marker", "was not built by this run (build_id b-other"),
        ("refused_rows", "holds rows of build b-stale"),
    ):
        proc = scenario.runs[name]
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, output[-3000:]
        assert "refusing to publish" in output and expected in output, output[-3000:]
    assert scenario.snapshots["refused"] == scenario.snapshots["late"]


ANALYST_VIEWS = ("usage_by_org_day", "cost_by_model_month", "budget_consumption", "top_keys")


def test_rebuilding_staging_keeps_the_analyst_views(scenario: Warehouse):
    """dbt-postgres's own view materialization drops the old view with CASCADE, which took the
    analyst views in marts with it; dbt/macros/materializations/postgres_view.sql replaces views
    in place."""
    for view in ANALYST_VIEWS:
        assert scenario.query(f"SELECT count(*) FROM marts.{view}")[0][0] > 0, view


LOG_ENTRY = re.compile(r"^\S*\d\d:\d\d:\d\d\.\d+ \[\w+\s*\] \[[^\]]*\]: ", re.M)


def statements(log: str, node: str) -> list[str]:
    """What dbt ran on the node's connection, in order: 'BEGIN', 'COMMIT' or the SQL."""
    prefix = f"On {node}: "
    found = []
    for entry in LOG_ENTRY.split(log):
        if entry.startswith(prefix):
            found.append(entry[len(prefix) :].strip())
    return found


def test_mart_pre_hooks_run_inside_the_models_transaction(scenario: Warehouse):
    """lock -> build_id assertion -> delete -> insert in one transaction: no COMMIT between the
    first hook and the insert, one after it. dbt-duckdb logs its BEGIN; dbt-postgres's psycopg2
    connection opens its transaction implicitly at the first statement after a COMMIT."""
    log = (scenario.work / "logs_late" / "dbt.log").read_text()
    for mart in ("usage_hourly", "usage_daily", "usage_daily_breakdown"):
        ran = statements(log, f"model.platform_analytics.{mart}")

        def at(*markers: str, ran=ran, mart=mart) -> int:
            hits = [i for i, sql in enumerate(ran) if all(m in sql for m in markers)]
            assert hits, f"{mart}: no statement with {markers!r} in dbt's log"
            return hits[0]

        order = [at("pg_advisory_xact_lock(7346001)")] if scenario.target == "postgres" else []
        order += [
            at("refusing to publish"),
            at("delete from"),
            at("insert into", f'"marts"."{mart}"'),
        ]
        assert order == sorted(order), (mart, order, ran)
        first, insert = order[0], order[-1]
        assert not {"COMMIT", "ROLLBACK"} & set(ran[first:insert]), (mart, ran)
        assert "COMMIT" in ran[insert + 1 :], (mart, ran)
        if scenario.target == "duckdb":
            before = [s for s in ran[:first] if s in ("BEGIN", "COMMIT")]
            assert before and before[-1] == "BEGIN", (mart, ran)


def test_budget_consumption(scenario: Warehouse):
    landing = scenario.expected["late"]
    today = datetime.now(UTC).date()
    expected = {}
    for budget in landing.budgets:
        bid, org, model, period, token_limit, cost_limit, soft, hard, created = budget

        def start_of(day: date, period=period) -> date:
            return day if period == "day" else day.replace(day=1)

        def end_of(start: date, period=period) -> date:
            if period == "day":
                return start + timedelta(days=1)
            return (start.replace(day=28) + timedelta(days=4)).replace(day=1)

        used: dict[date, list] = defaultdict(lambda: [0, Decimal(0)])
        for e in landing.events:
            if e["organization_id"] == org and model in (None, e["model_id"]):
                total = used[start_of(e["occurred_at"].date())]
                total[0] += e["input_tokens"] + e["output_tokens"]
                total[1] += e["cost_usd"]
        used.setdefault(start_of(today), [0, Decimal(0)])
        for start, (tokens, cost) in used.items():
            if end_of(start) <= created.date():
                continue

            def reached(
                threshold, tokens=tokens, cost=cost, token_limit=token_limit, cost_limit=cost_limit
            ):
                return bool(
                    (token_limit is not None and tokens >= token_limit * threshold)
                    or (cost_limit is not None and cost >= cost_limit * threshold)
                )

            expected[(bid, start)] = (
                end_of(start),
                start == start_of(today),
                tokens,
                cost,
                reached(soft),
                reached(hard),
            )
    rows = scenario.query(
        "SELECT budget_id, period_start, period_end, is_current, tokens, cost_usd, soft_reached, hard_reached"
        " FROM marts.budget_consumption"
    )
    got = {(r[0], r[1]): tuple(r[2:]) for r in rows}
    assert got == expected
    flags = {(v[4], v[5]) for v in expected.values()}
    assert {(True, True), (True, False), (False, False)} <= flags, "budgets should cover every flag"
    assert (uid(5, 2), DAY0.date()) not in got  # before that budget existed


def docs_queries() -> list[str]:
    text = DOCS.read_text()
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def test_docs_example_queries_run(scenario: Warehouse):
    """Every ```sql block of docs/analytics.md runs on both targets and returns rows; on
    PostgreSQL as the platform_analyst login, which may read marts and nothing else."""
    queries = docs_queries()
    assert len(queries) >= 4
    role_url = None
    if scenario.target == "postgres":
        parts = urlsplit(postgres.normalize_url(scenario.url))
        host = parts.hostname or "127.0.0.1"
        role_url = f"postgresql://platform_analyst@{host}:{parts.port or 5432}{parts.path}"
    for query in queries:
        rows = scenario.query(query, role_url=role_url)
        assert rows, f"no rows from:\n{query}"
    if role_url:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            scenario.query("SELECT count(*) FROM landing.usage_events", role_url=role_url)
