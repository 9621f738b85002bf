"""The analytics chain end to end, on both warehouse engines: generated traffic (late, duplicate
and invalid events) ingested for real, rolled up by the same stages the Dagster jobs run
(lib/rollup/pipeline.py), every mart row compared with an independent recomputation; late
events re-rolled exactly; a broken increment stops publication; the analyst role reads marts
only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from analytics_world import (
    KEY,
    add_category_events,
    assert_marts_equal,
    build_world,
    expected_marts,
    marts,
    migrate_warehouse,
    normalise_period,
)
from psycopg import errors
from warehouse_helpers import warehouse_rows

from dagster_project.lib.ingest import ingest_events
from dagster_project.lib.ingest.config import load_config as load_ingest_config
from dagster_project.lib.quality.reconcile import reconcile_hours
from dagster_project.lib.rollup import pipeline
from dagster_project.lib.rollup.late import touched_since
from dagster_project.lib.rollup.ranges import HOUR, HourRange, collapse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(operational_databases, tmp_path_factory):
    url = operational_databases.create()
    world = build_world(url, tmp_path_factory.mktemp("world"))
    add_category_events(url, world.hours)
    return world


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def rolled_up(request, world, tmp_path_factory, pg_server_url):
    """The world's days rolled up once into a fresh warehouse of each engine."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('wh') / 'warehouse.duckdb'}"
    else:
        from dagster_project.lib.db import postgres

        url = postgres.with_database(pg_server_url, f"test_{uuid.uuid4().hex[:8]}_wh")
        postgres.ensure_database(url)
        request.addfinalizer(lambda: postgres.drop_database(url))
    migrate_warehouse(url)
    report = pipeline.rollup(world.operational_url, url, world.hours, pseudonym_key=KEY)
    return url, report


def test_every_mart_row_equals_an_independent_recomputation(world, rolled_up):
    url, report = rolled_up
    assert report.passed and world.manifest["totals"]["late"] > 0
    assert world.manifest["totals"]["duplicates"] > 0 and world.manifest["totals"]["invalid"] > 0
    assert_marts_equal(
        marts(url, "usage_hourly", "hour_start"),
        expected_marts(world.operational_url, world.hours, "hour"),
    )
    assert_marts_equal(
        marts(url, "usage_daily", "day"), expected_marts(world.operational_url, world.hours, "day")
    )


def test_a_rerun_of_the_same_hours_changes_nothing_but_the_build(world, rolled_up):
    url, _ = rolled_up
    before = marts(url, "usage_hourly", "hour_start")
    pipeline.rollup(world.operational_url, url, world.hours, pseudonym_key=KEY)
    assert marts(url, "usage_hourly", "hour_start") == before


def test_late_events_rebuild_exactly_their_hour_and_day(world, rolled_up):
    url, _ = rolled_up
    late_hour = world.hours.end - 5 * HOUR
    builds_before = dict(
        warehouse_rows(url, "SELECT DISTINCT hour_start, build_id FROM marts.usage_hourly")
    )
    days_before = dict(warehouse_rows(url, "SELECT DISTINCT day, build_id FROM marts.usage_daily"))
    since = datetime.now(UTC) - timedelta(seconds=1)
    org, model = _any_group(world.operational_url, late_hour)
    ingest_events(
        [_late_event(org, model, late_hour + timedelta(minutes=7 + i)) for i in range(3)],
        database_url=world.operational_url, config=load_ingest_config(), source="late-test",
    )  # fmt: skip
    touched = collapse(t.event_hour for t in touched_since(world.operational_url, since))
    assert touched == [HourRange(late_hour, late_hour + HOUR)]
    pipeline.rollup(world.operational_url, url, touched[0], pseudonym_key=KEY)

    assert_marts_equal(
        marts(url, "usage_hourly", "hour_start"),
        expected_marts(world.operational_url, world.hours, "hour"),
    )
    assert_marts_equal(
        marts(url, "usage_daily", "day"), expected_marts(world.operational_url, world.hours, "day")
    )
    builds_after = dict(
        warehouse_rows(url, "SELECT DISTINCT hour_start, build_id FROM marts.usage_hourly")
    )
    changed = {normalise_period(h) for h in builds_after if builds_after[h] != builds_before.get(h)}
    assert changed == {late_hour}
    days_after = dict(warehouse_rows(url, "SELECT DISTINCT day, build_id FROM marts.usage_daily"))
    assert {d for d in days_after if days_after[d] != days_before.get(d)} == {late_hour.date()}


def test_a_broken_increment_fails_its_check_and_publishes_nothing(world, rolled_up, monkeypatch):
    url, _ = rolled_up
    before = marts(url, "usage_hourly", "hour_start")
    real_run_dbt = pipeline.run_dbt

    def run_dbt_then_break_a_row(command, warehouse_url, **kwargs):  # the injected fault
        result = real_run_dbt(command, warehouse_url, **kwargs)
        if "usage_hourly_increment" in " ".join(command):
            _execute(
                url,
                "UPDATE increment.usage_hourly_increment SET cost_usd = cost_usd + 0.0000000001 "
                "WHERE hour_start = (SELECT min(hour_start) FROM increment.usage_hourly_increment)",
            )
        return result

    monkeypatch.setattr(pipeline, "run_dbt", run_dbt_then_break_a_row)
    with pytest.raises(pipeline.RollupCheckFailed, match="hourly_reconciles"):
        pipeline.rollup(world.operational_url, url, world.hours, pseudonym_key=KEY)
    assert marts(url, "usage_hourly", "hour_start") == before


def test_a_broken_category_cost_fails_reconciliation_and_publishes_nothing(
    world, rolled_up, monkeypatch
):
    """One category's cost off by the stored scale (1e-10) in one row of the increment: the
    other columns, cost_usd included, still agree, and the blocking reconciliation names it."""
    url, _ = rolled_up
    before = marts(url, "usage_hourly", "hour_start")
    real_run_dbt = pipeline.run_dbt

    def run_dbt_then_break_a_category(command, warehouse_url, **kwargs):  # the injected fault
        result = real_run_dbt(command, warehouse_url, **kwargs)
        if "usage_hourly_increment" in " ".join(command):
            _execute(
                url,
                "UPDATE increment.usage_hourly_increment "
                "SET reasoning_output_cost_usd = reasoning_output_cost_usd + 0.0000000001 "
                "WHERE reasoning_output_cost_usd > 0 AND hour_start = (SELECT min(hour_start) "
                "FROM increment.usage_hourly_increment WHERE reasoning_output_cost_usd > 0)",
            )
        return result

    monkeypatch.setattr(pipeline, "run_dbt", run_dbt_then_break_a_category)
    with pytest.raises(pipeline.RollupCheckFailed, match="hourly_reconciles"):
        pipeline.rollup(world.operational_url, url, world.hours, pseudonym_key=KEY)
    assert marts(url, "usage_hourly", "hour_start") == before
    # The increment the run left behind: exactly that column of that row, against both the raw
    # events and the operational rollup.
    report = reconcile_hours(world.operational_url, url, [(world.hours.start, world.hours.end)])
    assert {(d.check, d.column) for d in report.differences} == {
        ("hourly_vs_events", "reasoning_output_cost_usd"),
        ("hourly_vs_rollup", "reasoning_output_cost_usd"),
    }
    assert report.total_differences == 2
    [diff, _] = report.differences
    assert diff.actual - diff.expected == Decimal("0.0000000001")


def test_the_analyst_role_reads_the_marts_and_nothing_else(rolled_up, role_url):
    url, _ = rolled_up
    if url.startswith("duckdb:"):
        pytest.skip(
            "DuckDB has no roles: analysts open the published snapshot (test_rollup_snapshot.py)"
        )
    with psycopg.connect(role_url(url, "platform_analyst"), autocommit=True) as conn:
        for view in ("usage_hourly", "usage_daily", "usage_daily_breakdown", "usage_by_org_day",
                     "cost_by_model_month", "budget_consumption", "top_keys"):  # fmt: skip
            conn.execute(f"SELECT count(*) FROM marts.{view}").fetchone()
        for relation in ("landing.usage_events", "landing.users", "staging.stg_usage_events",
                         "increment.usage_hourly_increment", "platform_meta.schema_migrations"):  # fmt: skip
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {relation} LIMIT 1")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("DELETE FROM marts.usage_hourly")


def _any_group(operational_url: str, hour: datetime) -> tuple[str, str]:
    with psycopg.connect(operational_url) as conn:
        row = conn.execute(
            "SELECT organization_id::text, m.provider || '/' || m.model_name || '@' || m.version "
            "FROM app.usage_hourly u JOIN app.model_registry m ON m.id = u.model_id "
            "JOIN app.organizations o ON o.id = u.organization_id AND o.status = 'active' "
            "WHERE u.hour = %s ORDER BY requests DESC LIMIT 1",
            (hour,),
        ).fetchone()
    assert row, f"no traffic in {hour}"
    return row


def _late_event(org: str, model: str, occurred: datetime) -> dict:
    return {
        "event_id": f"late-{uuid.uuid4()}", "organization_id": org, "model": model,
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"), "operation": "chat.completions",
        "input_tokens": 100, "output_tokens": 20, "latency_ms": 321, "status": "success",
    }  # fmt: skip


def _execute(url: str, statement: str) -> None:
    if url.startswith("duckdb:"):
        import duckdb

        from dagster_project.lib.migrations.drivers.duckdb import duckdb_path

        with duckdb.connect(str(duckdb_path(url))) as conn:
            conn.execute(statement)
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)
