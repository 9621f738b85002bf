"""A small, realistic world for the analytics tests: a seeded operational database with generated
traffic (late, duplicate and invalid events included) ingested by the real ingestion, and an
independent recomputation of what every mart row must be, from the operational events."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from warehouse_helpers import warehouse_rows

from dagster_project.lib.generate import GenerateOptions, generate_usage
from dagster_project.lib.ingest import ingest_file
from dagster_project.lib.ingest.config import load_config as load_ingest_config
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.runner import Runner
from dagster_project.lib.pricing.categories import CATEGORIES, NEW_COUNTS, category_cost
from dagster_project.lib.rollup.ranges import HourRange
from dagster_project.lib.seeds import seed_database

KEY = "test-pseudonym-key"
# The token categories' columns of the hourly and daily marts (issue 10), after the percentiles.
CATEGORY_MEASURES = (*NEW_COUNTS, *(c.cost for c in CATEGORIES), "computed_cost_usd",
                     "provider_cost_requests")  # fmt: skip
MEASURES = (
    "requests, successful_requests, failed_requests, input_tokens, output_tokens, cost_usd, "
    "latency_ms_p50, latency_ms_p95, " + ", ".join(CATEGORY_MEASURES)
)
# A priority-tier price version offering every category (rates with all six decimals used), for
# the events add_category_events writes.
CATEGORY_RATES = {c.rate: Decimal(f"{j + 1}.{(j + 1) * 123457 % 1000000:06d}")
                  for j, c in enumerate(CATEGORIES)}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class World:
    operational_url: str
    hours: HourRange  # the generated days, whole
    manifest: dict


def build_world(
    operational_url: str, tmp_path: Path, *, days: int = 2, per_hour: float = 12
) -> World:
    seed_database(operational_url, analytics=False, actor="test-analytics")
    start = datetime.now(UTC).date() - timedelta(days=days)
    manifest = generate_usage(
        GenerateOptions(
            output=tmp_path / "usage.ndjson", start=start, days=days, events_per_hour=per_hour,
            seed=8, late_fraction=0.05, max_late_days=1, duplicate_fraction=0.03,
            invalid_fraction=0.02,
        )
    )  # fmt: skip
    config = load_ingest_config().replace(max_attempts=1)
    for entry in manifest["files"]:
        ingest_file(tmp_path / entry["path"], database_url=operational_url, config=config)
    first = datetime.combine(start, datetime.min.time(), UTC)
    return World(operational_url, HourRange(first, first + timedelta(days=days)), manifest)


def add_category_events(operational_url: str, hours: HourRange, *, count: int = 80) -> None:
    """`count` envelope-1.1 events (priority tier: the seeds price no priority tier, so the
    version added here overlaps none; every token category, some counts zero; every 4th
    with a provider-reported cost) spread over `hours`, written as the superuser with their
    category costs computed here by the Python oracle (lib/pricing/categories.py) under a priority
    price version added for the busiest model. The rollup trigger keeps app.usage_hourly/usage_daily as for ingested events."""
    rng = random.Random(10)
    with psycopg.connect(operational_url) as conn:
        org, model = conn.execute(
            "SELECT u.organization_id, u.model_id FROM app.usage_hourly u "
            "JOIN app.organizations o ON o.id = u.organization_id AND o.status = 'active' "
            "GROUP BY 1, 2 ORDER BY sum(requests) DESC LIMIT 1"
        ).fetchone()
        rates = ", ".join(CATEGORY_RATES)
        (price_id,) = conn.execute(
            f"INSERT INTO app.model_prices (model_id, effective_from, service_tier, {rates}) "
            f"VALUES (%s, %s, 'priority', {', '.join(['%s'] * len(CATEGORY_RATES))}) RETURNING id",
            (model, hours.start - timedelta(days=30), *CATEGORY_RATES.values()),
        ).fetchone()
        span = int((hours.end - hours.start).total_seconds())
        rows = []
        for i in range(count):
            counts = {c.count: (0 if rng.random() < 0.25 else rng.randint(1, 200_000 if c.unit == 10**6 else 40))
                      for c in CATEGORIES}  # fmt: skip
            costs = {c.cost: category_cost(counts[c.count], CATEGORY_RATES[c.rate], c.unit)
                     for c in CATEGORIES}  # fmt: skip
            provider = i % 4 == 0
            cost = (
                Decimal("0.0123456789") * (i + 1) if provider else sum(costs.values(), Decimal(0))
            )
            at = hours.start + timedelta(seconds=rng.randrange(span))
            rows.append((at, org, model, 50 + i, f"categories-{i}", "chat.completions",
                         "error" if i % 9 == 0 else "success", price_id, "priority",
                         "provider" if provider else "computed", cost,
                         *counts.values(), *costs.values()))  # fmt: skip
        columns = ("occurred_at, organization_id, model_id, latency_ms, event_id, operation, status, "
                   "price_id, service_tier, cost_source, cost_usd, "
                   + ", ".join(c.count for c in CATEGORIES) + ", "
                   + ", ".join(c.cost for c in CATEGORIES))  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO app.usage_events ({columns}) "
                f"VALUES ({', '.join(['%s'] * len(rows[0]))})",
                rows,
            )


def migrate_warehouse(url: str) -> str:
    config = dataclasses.replace(load_config(), telemetry_exporter="none")
    Runner("analytics", config=config, url=url, actor="test-analytics").up()
    return url


def _quantile(values: list[int], p: float) -> float:
    """Linear interpolation between closest ranks (DuckDB quantile_cont, PostgreSQL
    percentile_cont)."""
    xs = sorted(values)
    h = (len(xs) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def expected_marts(operational_url: str, hours: HourRange, grain: str) -> dict[tuple, tuple]:
    """{(period, organization_id, model_id): (requests, successful, failed, input_tokens,
    output_tokens, cost_usd, p50, p95, *CATEGORY_MEASURES)} recomputed in Python from
    app.usage_events (computed_cost_usd: the sum of each event's category costs)."""
    counts = ", ".join(NEW_COUNTS)
    costs = ", ".join(c.cost for c in CATEGORIES)
    with psycopg.connect(operational_url) as conn:
        rows = conn.execute(
            "SELECT occurred_at, organization_id::text, model_id::text, status, input_tokens, "
            f"output_tokens, cost_usd, latency_ms, cost_source, {counts}, {costs} "
            "FROM app.usage_events WHERE occurred_at >= %s AND occurred_at < %s",
            (hours.start, hours.end),
        ).fetchall()
    groups: dict[tuple, list] = defaultdict(list)
    for occurred, org, model, *event in rows:
        moment = occurred.astimezone(UTC)
        period = (
            moment.replace(minute=0, second=0, microsecond=0) if grain == "hour" else moment.date()
        )
        groups[(period, org, model)].append(event)
    n_counts = len(NEW_COUNTS)
    out = {}
    for key, events in groups.items():
        latencies = [e[4] for e in events]
        ok = sum(1 for e in events if e[0] == "success")
        category_counts = [sum(e[6 + j] for e in events) for j in range(n_counts)]
        category_costs = [sum((e[6 + n_counts + j] for e in events), Decimal(0))
                          for j in range(len(CATEGORIES))]  # fmt: skip
        out[key] = (
            len(events), ok, len(events) - ok, sum(e[1] for e in events), sum(e[2] for e in events),
            sum((e[3] for e in events), Decimal(0)), _quantile(latencies, 0.5), _quantile(latencies, 0.95),
            *category_counts, *category_costs, sum(category_costs, Decimal(0)),
            sum(1 for e in events if e[5] == "provider"),
        )  # fmt: skip
    return out


def normalise_period(value) -> datetime | date:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def marts(url: str, relation: str, period: str) -> dict[tuple, tuple]:
    rows = warehouse_rows(
        url, f"SELECT {period}, organization_id, model_id, {MEASURES} FROM marts.{relation}"
    )
    return {(normalise_period(r[0]), str(r[1]), str(r[2])): tuple(r[3:]) for r in rows}


def assert_marts_equal(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        got = actual[key]
        assert got[:6] == want[:6], key  # counts and cost: exact
        assert got[8:] == want[8:], key  # token categories, computed cost, provider-costed: exact
        assert all(isinstance(v, Decimal) for v in got[8 + len(NEW_COUNTS) : -1]), key  # no float
        # percentiles: exact interpolation, rounded to 2 decimals by the marts (dbt/macros/percentile.sql)
        assert float(got[6]) == pytest.approx(want[6], abs=0.0051), key
        assert float(got[7]) == pytest.approx(want[7], abs=0.0051), key
