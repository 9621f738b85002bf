"""The rollup jobs as operators run them: `dagster job execute` of the hourly and daily jobs over
a partition range (what CI and a backfill do), and the late-event sensor's run requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from analytics_world import (
    KEY,
    assert_marts_equal,
    build_world,
    expected_marts,
    marts,
    migrate_warehouse,
)

from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.rollups.partitions import DAILY, HOURLY
from dagster_project.defs.rollups.sensors import late_events_sensor
from dagster_project.lib.ingest import ingest_events
from dagster_project.lib.ingest.config import load_config as load_ingest_config
from dagster_project.lib.rollup.ranges import HOUR

pytestmark = pytest.mark.slow
DAGSTER = str(Path(sys.executable).with_name("dagster"))


@pytest.fixture(scope="module")
def world(operational_databases, tmp_path_factory):
    return build_world(operational_databases.create(), tmp_path_factory.mktemp("world"), days=1)


@pytest.fixture(scope="module")
def env(world, tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("dagster")
    (tmp / "home").mkdir()
    warehouse = migrate_warehouse(f"duckdb:///{tmp / 'warehouse.duckdb'}")
    return {
        **os.environ, "DAGSTER_HOME": str(tmp / "home"), "DATABASE_URL": world.operational_url,
        "WAREHOUSE_URL": warehouse, "DBT_TARGET": "duckdb", "WAREHOUSE_PSEUDONYM_KEY": KEY,
    }  # fmt: skip


def _execute(job: str, first: str, last: str, env: dict, cwd: Path) -> str:
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    result = subprocess.run(
        [DAGSTER, "job", "execute", "-m", "dagster_project", "-j", job, "--tags", json.dumps(tags)],
        # Not the project root: Dagster's CLI would load a developer's .env over `env`.
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = result.stdout + result.stderr
    failures = [line for line in output.splitlines() if "FAILURE" in line or "Error" in line]
    assert result.returncode == 0 and "RUN_SUCCESS" in output, "\n".join(failures)[-6000:]
    return output


def test_dagster_job_execute_rolls_up_a_range_of_hours_then_its_day(world, env, tmp_path):
    hours = world.hours
    first = HOURLY.get_partition_key_for_timestamp(hours.start.timestamp())
    last = HOURLY.get_partition_key_for_timestamp((hours.end - HOUR).timestamp())
    _execute("hourly_rollup_job", first, last, env, tmp_path)
    url = env["WAREHOUSE_URL"]
    assert_marts_equal(
        marts(url, "usage_hourly", "hour_start"),
        expected_marts(world.operational_url, hours, "hour"),
    )

    day = DAILY.get_partition_key_for_timestamp(hours.start.timestamp())
    _execute("daily_rollup_job", day, day, env, tmp_path)
    assert_marts_equal(
        marts(url, "usage_daily", "day"), expected_marts(world.operational_url, hours, "day")
    )
    snapshot = Path(url.removeprefix("duckdb:///")).with_name("analytics.duckdb")
    assert snapshot.is_file()  # what analysts open, refreshed after the publication


def test_the_sensor_requests_one_run_per_contiguous_range_of_late_hours(world, env):
    resources = {"operational_db": OperationalDatabase(url=world.operational_url)}

    def evaluate(cursor: str | None):
        with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
            return late_events_sensor(context), context.cursor

    # The world's own ingestion (minutes ago, into yesterday's hours) is late too: the first tick
    # requests it, then remembers it.
    _, cursor = evaluate(None)
    late = [
        world.hours.start + 2 * HOUR,
        world.hours.start + 3 * HOUR,
        world.hours.start + 9 * HOUR,
    ]
    org = _active_org(world.operational_url)
    ingest_events(
        [_event(org, hour + timedelta(minutes=1)) for hour in late],
        database_url=world.operational_url, config=load_ingest_config(), source="sensor-test",
    )  # fmt: skip
    requests, cursor = evaluate(cursor)
    ranges = sorted(
        (r.job_name, r.tags["dagster/asset_partition_range_start"],
         r.tags["dagster/asset_partition_range_end"])
        for r in requests
    )  # fmt: skip
    day = DAILY.get_partition_key_for_timestamp(world.hours.start.timestamp())
    key = lambda h: HOURLY.get_partition_key_for_timestamp(h.timestamp())  # noqa: E731
    assert ranges == sorted([
        ("hourly_rollup_job", key(late[0]), key(late[1])),
        ("hourly_rollup_job", key(late[2]), key(late[2])),
        ("daily_rollup_job", day, day),
    ])  # fmt: skip
    again, _ = evaluate(cursor)  # the same touches are not requested twice
    assert isinstance(again, dg.SkipReason)


def _active_org(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT o.id::text FROM app.organizations o WHERE o.status = 'active' "
            "AND EXISTS (SELECT 1 FROM app.usage_hourly u WHERE u.organization_id = o.id) LIMIT 1"
        ).fetchone()[0]


def _event(org: str, occurred: datetime) -> dict:
    return {
        "event_id": f"sensor-{uuid.uuid4()}", "organization_id": org, "model": "openai/gpt-4o-mini@2024-07-18",
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"), "operation": "chat.completions",
        "input_tokens": 10, "output_tokens": 5, "latency_ms": 100, "status": "success",
    }  # fmt: skip
