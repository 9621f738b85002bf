"""A small, realistic world for the analytics tests: a seeded operational database with generated
traffic (late, duplicate and invalid events included) ingested by the real ingestion, and an
independent recomputation of what every mart row must be, from the operational events."""

from __future__ import annotations

import dataclasses
import math
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
from dagster_project.lib.rollup.ranges import HourRange
from dagster_project.lib.seeds import seed_database

KEY = "test-pseudonym-key"
MEASURES = (
    "requests, successful_requests, failed_requests, input_tokens, output_tokens, cost_usd, "
    "latency_ms_p50, latency_ms_p95"
)


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
    output_tokens, cost_usd, p50, p95)} recomputed in Python from app.usage_events."""
    with psycopg.connect(operational_url) as conn:
        rows = conn.execute(
            "SELECT occurred_at, organization_id::text, model_id::text, status, input_tokens, "
            "output_tokens, cost_usd, latency_ms FROM app.usage_events "
            "WHERE occurred_at >= %s AND occurred_at < %s",
            (hours.start, hours.end),
        ).fetchall()
    groups: dict[tuple, list] = defaultdict(list)
    for occurred, org, model, status, tin, tout, cost, latency in rows:
        moment = occurred.astimezone(UTC)
        period = (
            moment.replace(minute=0, second=0, microsecond=0) if grain == "hour" else moment.date()
        )
        groups[(period, org, model)].append((status, tin, tout, cost, latency))
    out = {}
    for key, events in groups.items():
        latencies = [e[4] for e in events]
        ok = sum(1 for e in events if e[0] == "success")
        out[key] = (
            len(events), ok, len(events) - ok, sum(e[1] for e in events), sum(e[2] for e in events),
            sum((e[3] for e in events), Decimal(0)), _quantile(latencies, 0.5), _quantile(latencies, 0.95),
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
        # percentiles: exact interpolation, rounded to 2 decimals by the marts (dbt/macros/percentile.sql)
        assert float(got[6]) == pytest.approx(want[6], abs=0.0051), key
        assert float(got[7]) == pytest.approx(want[7], abs=0.0051), key
