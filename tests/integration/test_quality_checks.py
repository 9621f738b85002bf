"""Reconciliation and the Great Expectations suites on both warehouse engines.

One operational database per module: the seeds (42 events over four November days) plus a few
events ingested through lib/ingest into one recent hour. Per engine, a warehouse migrated with
the analytics migrations (landing), landing filled with the operational events, and the
increment/marts tables built here from an independent Python recomputation. Broken variants
are copies under other names, so no test changes what another one reads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from ingest_helpers import test_config

from dagster_project.lib.db import postgres
from dagster_project.lib.ingest import ingest_events
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.drivers.duckdb import duckdb_path
from dagster_project.lib.migrations.runner import Runner
from dagster_project.lib.pricing.categories import CATEGORIES, NEW_COUNTS
from dagster_project.lib.quality import reconcile
from dagster_project.lib.quality.common import days_of
from dagster_project.lib.quality.expectations import expected_totals, validate
from dagster_project.lib.quality.reconcile import (
    CATEGORY_MEASURES,
    MEASURES,
    Difference,
    reconcile_days,
    reconcile_hours,
)
from dagster_project.lib.seeds import ids, seed_database

SEED_WINDOW = ("2026-11-01T00:00:00+00:00", "2026-11-05T00:00:00+00:00")
BUILD_ID = "quality-test"
TICK = Decimal("1e-10")  # the stored scale of cost_usd
# The token categories' columns (issue 10): the events' counts and costs, then cost_source.
EVENT_CATEGORY_COLUMNS = (*NEW_COUNTS, *(c.cost for c in CATEGORIES), "cost_source")
CATEGORY_DDL = ", ".join([*(f"{c} BIGINT" for c in NEW_COUNTS),
                          *(f"{c.cost} DECIMAL(38, 10)" for c in CATEGORIES),
                          "computed_cost_usd DECIMAL(38, 10)", "provider_cost_requests BIGINT"])  # fmt: skip
TIMINGS: dict[str, float] = {}  # printed at the end of the module (pytest -s shows them)


@pytest.fixture(scope="module", autouse=True)
def print_timings() -> Iterator[None]:
    yield
    print("\nquality timings (s):", json.dumps(TIMINGS, sort_keys=True))


@dataclasses.dataclass(frozen=True)
class World:
    url: str
    ranges: list[tuple[str, str]]
    hourly: dict[tuple, dict[str, Any]]  # (hour_start, org, model_id) -> measures
    events: list[tuple]  # landing rows


def _hourly_from_events(events: list[tuple], models: dict[uuid.UUID, str]) -> dict:
    groups: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "successful_requests": 0, "failed_requests": 0,
                 "input_tokens": 0, "output_tokens": 0, "cost_usd": Decimal(0), "latency": [],
                 **{c: 0 for c in CATEGORY_MEASURES}}
    )  # fmt: skip
    for e in events:
        occurred_at, org, model_id = e[0], e[2], e[5]
        hour = occurred_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        g = groups[(hour, org, model_id)]
        g["model"] = models[model_id]
        g["requests"] += 1
        g["successful_requests" if e[11] == "success" else "failed_requests"] += 1
        g["input_tokens"] += e[6]
        g["output_tokens"] += e[7]
        g["cost_usd"] += e[13]
        g["latency"].append(e[8])
        category = dict(zip(EVENT_CATEGORY_COLUMNS, e[14:], strict=True))
        for column in CATEGORY_MEASURES[:-2]:
            g[column] += category[column]
        g["computed_cost_usd"] += sum(category[c.cost] for c in CATEGORIES)
        g["provider_cost_requests"] += category["cost_source"] == "provider"
    return dict(groups)


@pytest.fixture(scope="module")
def world(operational_databases, tmp_path_factory) -> Iterator[World]:
    url = operational_databases.create()
    seed_database(url)
    # A recent hour (ingestion accepts 7 days back), through the real ingestion path.
    with psycopg.connect(url) as conn:
        now = conn.execute("SELECT now()").fetchone()[0]
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    acme = str(ids.organization_id("acme"))
    key = str(ids.api_key_id("acme", "ci-pipeline"))
    batch = [
        {"event_id": f"quality-{n}", "organization_id": acme, "user_id": None, "api_key_id": key,
         "model": "openai/gpt-4o@2024-08-06", "operation": "chat.completions",
         "occurred_at": (hour + timedelta(minutes=5 * n)).isoformat().replace("+00:00", "Z"),
         "input_tokens": 1000 + 7 * n, "output_tokens": 300 + n, "latency_ms": 200 + n,
         "status": "error" if n % 4 == 3 else "success",
         "error_code": "rate_limited" if n % 4 == 3 else None}
        for n in range(8)
    ]  # fmt: skip
    result = ingest_events(
        batch, database_url=url, config=test_config(tmp_path_factory.mktemp("in"))
    )
    assert result.accepted == len(batch), result
    ranges = [SEED_WINDOW, (hour.isoformat(), (hour + timedelta(hours=1)).isoformat())]

    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        events = conn.execute(
            f"""SELECT occurred_at, received_at, organization_id, user_id, api_key_id, model_id,
                      input_tokens, output_tokens, latency_ms, event_id, operation, status,
                      error_code, cost_usd, {", ".join(EVENT_CATEGORY_COLUMNS)}
               FROM app.usage_events
               WHERE (occurred_at >= %s AND occurred_at < %s) OR (occurred_at >= %s AND occurred_at < %s)
               ORDER BY organization_id, event_id""",
            (*ranges[0], *ranges[1]),
        ).fetchall()
        models = dict(conn.execute(
            "SELECT id, provider || '/' || model_name || '@' || version FROM app.model_registry"
        ).fetchall())  # fmt: skip
    assert len(events) == 42 + len(batch)
    yield World(url, ranges, _hourly_from_events(events, models), events)
    operational_databases.drop(url)


# -- the warehouse --------------------------------------------------------------------------------

MEASURE_DDL = """requests BIGINT, successful_requests BIGINT, failed_requests BIGINT,
    input_tokens BIGINT, output_tokens BIGINT, cost_usd DECIMAL(38, 10)"""


def run_sql(
    url: str, statements: Sequence[str], rows: Sequence[tuple[str, list[tuple]]] = ()
) -> None:
    """Statements then (insert, rows) pairs, on either engine; `?` placeholders."""
    if url.startswith("duckdb:"):
        with duckdb.connect(str(duckdb_path(url))) as conn:
            for statement in statements:
                conn.execute(statement)
            for insert, values in rows:
                conn.executemany(insert, values)
    else:
        with psycopg.connect(postgres.normalize_url(url)) as conn:
            for statement in statements:
                conn.execute(statement)
            for insert, values in rows:
                with conn.cursor() as cur:
                    cur.executemany(insert.replace("?", "%s"), values)


def _build(url: str, world: World) -> None:
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    Runner("analytics", config=config, url=url, actor="quality-test").up()
    hourly, daily = [], defaultdict(lambda: defaultdict(Decimal))
    for (hour, org, model_id), g in sorted(world.hourly.items()):
        latency = sorted(g["latency"])
        p50 = statistics.median(latency)
        hourly.append((hour, org, model_id, g["model"], g["requests"], g["successful_requests"],
                       g["failed_requests"], g["input_tokens"], g["output_tokens"], g["cost_usd"],
                       float(p50), float(latency[-1]), BUILD_ID,
                       *(g[c] for c in CATEGORY_MEASURES)))  # fmt: skip
        d = daily[(hour.date(), org, model_id)]
        d["model"] = g["model"]
        for column in MEASURES:
            d[column] += g[column]
    daily_rows = [(day, org, model_id, d["model"], int(d["requests"]), int(d["successful_requests"]),
                   int(d["failed_requests"]), int(d["input_tokens"]), int(d["output_tokens"]),
                   d["cost_usd"], BUILD_ID, *(d[c] for c in CATEGORY_MEASURES))
                  for (day, org, model_id), d in sorted(daily.items())]  # fmt: skip
    run_sql(
        url,
        [
            "CREATE SCHEMA IF NOT EXISTS increment",
            "CREATE SCHEMA IF NOT EXISTS marts",
            f"""CREATE TABLE increment.usage_hourly_increment (hour_start TIMESTAMPTZ,
                organization_id UUID, model_id UUID, model VARCHAR, {MEASURE_DDL},
                latency_ms_p50 FLOAT8, latency_ms_p95 FLOAT8, build_id VARCHAR, {CATEGORY_DDL})""",
            f"""CREATE TABLE increment.usage_daily_increment (day DATE, organization_id UUID,
                model_id UUID, model VARCHAR, {MEASURE_DDL}, build_id VARCHAR, {CATEGORY_DDL})""",
        ],
        [
            (
                "INSERT INTO landing.usage_events (occurred_at, received_at, organization_id, user_id, "
                "api_key_id, model_id, input_tokens, output_tokens, latency_ms, event_id, operation, "
                f"status, error_code, cost_usd, {', '.join(EVENT_CATEGORY_COLUMNS)}) "
                f"VALUES ({', '.join(['?'] * (14 + len(EVENT_CATEGORY_COLUMNS)))})",
                world.events,
            ),
            (
                f"INSERT INTO increment.usage_hourly_increment VALUES ({', '.join(['?'] * (13 + len(CATEGORY_MEASURES)))})",
                hourly,
            ),
            (
                f"INSERT INTO increment.usage_daily_increment VALUES ({', '.join(['?'] * (11 + len(CATEGORY_MEASURES)))})",
                daily_rows,
            ),
        ],  # fmt: skip
    )
    run_sql(
        url, ["CREATE TABLE marts.usage_hourly AS SELECT * FROM increment.usage_hourly_increment"]
    )


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def warehouse(request, world: World, tmp_path_factory, pg_server_url: str) -> Iterator[str]:
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('wh') / 'warehouse.duckdb'}"
        _build(url, world)
        yield url
    else:
        # tests/conftest.py's naming, so a killed run's leftovers are found and dropped the same way.
        url = postgres.with_database(pg_server_url, f"test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
        postgres.ensure_database(url)
        try:
            _build(url, world)
            yield url
        finally:
            postgres.drop_database(url)


def _copy(url: str, source: str, target: str, *changes: str) -> None:
    run_sql(url, [f"CREATE TABLE {target} AS SELECT * FROM {source}", *changes])


def _timed(name: str, engine: str, call):
    started = time.monotonic()
    result = call()
    TIMINGS[f"{name}[{engine}]"] = round(time.monotonic() - started, 3)
    return result


def _engine(url: str) -> str:
    return "duckdb" if url.startswith("duckdb:") else "postgres"


# -- reconciliation -------------------------------------------------------------------------------


def test_matching_hours_and_days_reconcile(world: World, warehouse: str):
    report = _timed("reconcile_hours", _engine(warehouse),
                    lambda: reconcile_hours(world.url, warehouse, world.ranges))  # fmt: skip
    assert report.passed, report.metadata()
    assert report.checked["warehouse_rows"] == len(world.hourly) == report.checked["rollup_rows"]
    assert report.checked["event_groups"] == len(world.hourly)
    assert report.checked["hours"] == 4 * 24 + 1
    json.dumps(report.metadata())

    days = days_of(world.ranges)
    daily = _timed("reconcile_days", _engine(warehouse),
                   lambda: reconcile_days(warehouse, days, operational_url=world.url))  # fmt: skip
    assert daily.passed, daily.metadata()
    assert daily.checked["days"] == 5 and daily.checked["warehouse_rows"] > 0
    assert daily.checked["rollup_rows"] == daily.checked["warehouse_rows"]


def test_broken_hourly_rows_are_listed(world: World, warehouse: str, monkeypatch):
    # Every difference listed (the stranger's row alone differs in 30 measures per check; the
    # cap of the listing is test_missing_landing_event_and_capped_listing's subject).
    monkeypatch.setattr(reconcile, "MAX_LISTED", 100)
    keys = sorted(world.hourly)
    h1, org1, model1 = keys[0]
    h2, org2, model2 = next(k for k in keys[1:] if world.hourly[k]["successful_requests"])
    g1, g2 = world.hourly[(h1, org1, model1)], world.hourly[(h2, org2, model2)]
    stranger = uuid.uuid4()
    where = "hour_start = CAST('{}' AS TIMESTAMPTZ) AND organization_id = '{}' AND model_id = '{}'"
    _copy(
        warehouse, "increment.usage_hourly_increment", "increment.hourly_broken",
        "UPDATE increment.hourly_broken SET cost_usd = cost_usd + 0.0000000001 WHERE "
        + where.format(h1.isoformat(), org1, model1),
        "UPDATE increment.hourly_broken SET requests = requests - 1, "
        "successful_requests = successful_requests - 1 WHERE "
        + where.format(h2.isoformat(), org2, model2),
        f"INSERT INTO increment.hourly_broken SELECT hour_start, '{stranger}', model_id, model, "
        "requests, successful_requests, failed_requests, input_tokens, output_tokens, cost_usd, "
        "latency_ms_p50, latency_ms_p95, build_id, " + ", ".join(CATEGORY_MEASURES)
        + " FROM increment.usage_hourly_increment WHERE "
        + where.format(h1.isoformat(), org1, model1),
    )  # fmt: skip
    report = reconcile_hours(world.url, warehouse, world.ranges,
                             hourly_relation="increment.hourly_broken")  # fmt: skip
    assert not report.passed
    hour1, hour2 = h1.isoformat(), h2.isoformat()
    for check in ("hourly_vs_events", "hourly_vs_rollup"):
        assert Difference(check, hour1, str(org1), str(model1), "cost_usd",
                          g1["cost_usd"], g1["cost_usd"] + TICK) in report.differences  # fmt: skip
        assert Difference(check, hour2, str(org2), str(model2), "requests",
                          g2["requests"], g2["requests"] - 1) in report.differences  # fmt: skip
        assert Difference(check, hour1, str(stranger), str(model1), "requests",
                          None, g1["requests"]) in report.differences  # fmt: skip
    # Per check: cost (1) + requests and successful (2) + every measure of the stranger's row
    # (its category columns too: 30 measures).
    assert report.total_differences == len(report.differences) == 2 * (1 + 2 + len(MEASURES))
    metadata = json.loads(json.dumps(report.metadata()))
    cost = next(d for d in metadata["differences"]
                if d["column"] == "cost_usd" and d["organization_id"] == str(org1))  # fmt: skip
    assert Decimal(cost["actual"]) - Decimal(cost["expected"]) == TICK


def test_missing_landing_event_and_capped_listing(world: World, warehouse: str):
    dropped = world.events[0]
    _copy(warehouse, "landing.usage_events", "increment.landing_broken",
          f"DELETE FROM increment.landing_broken WHERE event_id = '{dropped[9]}'")  # fmt: skip
    _copy(warehouse, "increment.usage_hourly_increment", "increment.hourly_empty",
          "DELETE FROM increment.hourly_empty")  # fmt: skip
    report = reconcile_hours(world.url, warehouse, world.ranges,
                             hourly_relation="increment.hourly_empty",
                             landing_relation="increment.landing_broken")  # fmt: skip
    hour = dropped[0].astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    in_hour = sum(1 for e in world.events if e[0].astimezone(UTC) >= hour
                  and e[0].astimezone(UTC) < hour + timedelta(hours=1))  # fmt: skip
    # Every group's measures (30 with the token categories), twice, plus the landing hour: more
    # than the listing keeps.
    assert report.total_differences == 2 * len(MEASURES) * len(world.hourly) + 1
    assert len(report.differences) == 50
    assert not report.passed
    whole = reconcile_hours(world.url, warehouse, world.ranges,
                            landing_relation="increment.landing_broken")  # fmt: skip
    assert whole.differences == (
        Difference("landing_vs_events", hour.isoformat(), None, None, "events", in_hour, in_hour - 1),
    )  # fmt: skip


def test_broken_daily_row_fails_both_daily_checks(world: World, warehouse: str):
    _copy(warehouse, "increment.usage_daily_increment", "increment.daily_broken",
          "UPDATE increment.daily_broken SET cost_usd = cost_usd + 0.0000000001 "
          "WHERE day = CAST('2026-11-02' AS DATE)")  # fmt: skip
    report = reconcile_days(warehouse, ["2026-11-02"], daily_relation="increment.daily_broken",
                            operational_url=world.url)  # fmt: skip
    assert not report.passed
    assert {d.check for d in report.differences} == {"daily_vs_hours", "daily_vs_rollup"}
    assert {d.column for d in report.differences} == {"cost_usd"}
    assert all(d.actual - d.expected == TICK for d in report.differences)


# -- Great Expectations ---------------------------------------------------------------------------


@pytest.mark.parametrize("suite", ["landing", "hourly", "daily"])
def test_suites_pass_on_matching_data(world: World, warehouse: str, suite: str, tmp_path: Path):
    expected = expected_totals(world.url, world.ranges, whole_days=suite == "daily",
                               build_id=BUILD_ID)  # fmt: skip
    result = _timed(f"gx_{suite}", _engine(warehouse), lambda: validate(
        warehouse, suite, world.ranges, expected, data_docs_dir=tmp_path / "docs"))  # fmt: skip
    assert result.passed, result.failed_expectations
    assert result.statistics["evaluated_expectations"] >= 10
    assert result.statistics["unsuccessful_expectations"] == 0
    assert Path(result.data_docs_path).is_file()
    json.dumps(result.metadata())


def test_duplicated_grain_fails_the_unique_expectation(
    world: World, warehouse: str, tmp_path: Path
):
    first = min(world.hourly)
    _copy(warehouse, "increment.usage_hourly_increment", "increment.hourly_duplicated",
          "INSERT INTO increment.hourly_duplicated SELECT * FROM increment.usage_hourly_increment "
          f"WHERE hour_start = CAST('{first[0].isoformat()}' AS TIMESTAMPTZ) "
          f"AND organization_id = '{first[1]}' AND model_id = '{first[2]}'")  # fmt: skip
    expected = expected_totals(world.url, world.ranges, build_id=BUILD_ID)
    result = validate(warehouse, "hourly", world.ranges, expected,
                      relation="increment.hourly_duplicated", data_docs_dir=tmp_path)  # fmt: skip
    assert not result.passed
    failed = {f["expectation"]: f for f in result.failed_expectations}
    unique = failed["expect_compound_columns_to_be_unique"]
    assert unique["unexpected_count"] == 2
    assert unique["kwargs"]["column_list"] == ["hour_start", "organization_id", "model_id"]
    # The sums see the extra row too; not-null, ratio and freshness still hold.
    assert failed["expect_column_sum_to_be_between"]["kwargs"]["column"] in (
        "requests", "input_tokens", "output_tokens", "cost_usd_e10", "computed_cost_e10",
        "provider_cost_requests")  # fmt: skip
    assert "expect_column_values_to_not_be_null" not in failed
    json.dumps(result.metadata())
