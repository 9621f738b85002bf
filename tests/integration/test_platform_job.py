"""`platform_job`, as `make demo` and `.ci/run` run it: `dagster job execute` on a fresh
operational database, a DuckDB warehouse and a Dagster instance in tmp. One run migrates, seeds,
generates traffic (late, duplicate, invalid events), ingests it, rolls it up hourly and daily
through the rollup jobs (reconciliation and Great Expectations gate the publication) and writes
the summary; the numbers are checked against the generator's manifest and the databases. A
second run changes nothing and says it was a replay."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest
import yaml

from dagster_project.lib.db import postgres

pytestmark = pytest.mark.slow
DAGSTER = str(Path(sys.executable).with_name("dagster"))
ROOT = Path(__file__).resolve().parents[2]

# Every asset the run materializes (the UI shows none of them as "never materialized").
MATERIALIZED = [
    ["operational_schema"], ["analytics_schema"], ["operational_seed"],
    ["usage_event_partitions"], ["usage_event_files"], ["raw_usage_events"],
    ["landing", "usage_events"], ["landing", "organizations"], ["staging", "stg_usage_events"],
    ["increment", "usage_hourly_increment"], ["marts", "usage_hourly"],
    ["increment", "usage_daily_increment"], ["marts", "usage_daily"],
    ["marts", "usage_by_org_day"], ["marts", "analyst_snapshot"], ["platform_rollups"],
]  # fmt: skip


def _makefile_pythonwarnings() -> str:
    """The filter `make demo` runs `dagster job execute` with (the Makefile's DAGSTER_EXECUTE)."""
    match = re.search(
        r"DAGSTER_EXECUTE := PYTHONWARNINGS='([^']+)'", (ROOT / "Makefile").read_text()
    )
    assert match, "Makefile: DAGSTER_EXECUTE no longer sets PYTHONWARNINGS"
    return match.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, pg_server_url):
    """Two runs of platform_job on one fresh world; yields what each printed and wrote."""
    tmp = tmp_path_factory.mktemp("platform")
    (tmp / "home").mkdir()
    # Named as tests/conftest.py names test databases (a killed run's leftovers are findable).
    url = postgres.with_database(pg_server_url, f"test_{os.getpid()}_{secrets.token_hex(4)}")
    assert postgres.ensure_database(url)
    traffic = tmp / "traffic" / "usage-week.ndjson"
    # Two days of arrivals, late events a day earlier: all within ingestion's 7-day retention,
    # so ingestion must report exactly the manifest's numbers. 60 events/hour keeps it quick.
    config = {
        "ops": {
            "usage_event_files": {"config": {"output": str(traffic), "days": 2,
                                             "max_late_days": 1, "events_per_hour": 60}},
            "raw_usage_events": {"config": {"paths": [str(traffic)]}},
        }
    }  # fmt: skip
    (tmp / "run.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ, "DAGSTER_HOME": str(tmp / "home"), "DATABASE_URL": url,
        "WAREHOUSE_URL": f"duckdb:///{tmp / 'warehouse.duckdb'}", "DBT_TARGET": "duckdb",
        "WAREHOUSE_PSEUDONYM_KEY": "test-key", "PYTHONWARNINGS": _makefile_pythonwarnings(),
    }  # fmt: skip
    runs = []
    try:
        for _ in range(2):
            result = subprocess.run(
                [DAGSTER, "job", "execute", "-m", "dagster_project", "-j", "platform_job",
                 "-c", str(tmp / "run.yaml")],
                # Not the project root: Dagster's CLI would load a developer's .env over `env`.
                cwd=tmp, env=env, capture_output=True, text=True, timeout=1200,
            )  # fmt: skip
            output = result.stdout + result.stderr
            failures = [
                line for line in output.splitlines() if "FAILURE" in line or "Error" in line
            ]
            assert result.returncode == 0 and "RUN_SUCCESS" in output, "\n".join(failures)[-6000:]
            runs.append((output, (traffic.parent / "summary.txt").read_text()))
        yield {"tmp": tmp, "url": url, "env": env, "traffic": traffic, "runs": runs}
    finally:
        postgres.drop_database(url)


def _manifest(demo) -> dict:
    return json.loads(Path(f"{demo['traffic']}.manifest.json").read_text())


def test_ingestion_reports_exactly_the_manifest_and_the_summary_says_so(demo):
    expected = _manifest(demo)["expected_ingest"]
    assert expected["duplicates"] > 0 and expected["quarantined"] > 0
    assert _manifest(demo)["totals"]["late"] > 0
    summary = demo["runs"][0][1]
    assert (
        f"{expected['submitted']:,} submitted: {expected['accepted']:,} accepted, "
        f"{expected['duplicates']:,} duplicates, {expected['quarantined']:,} quarantined"
    ) in summary
    assert "exactly what the generator's manifest expects" in summary
    # The seed's own analytics events (seeds/analytics/) are of November 2026; the traffic's
    # start at the manifest's window minus a day of lateness.
    start = _manifest(demo)["window"]["start"]
    with psycopg.connect(demo["url"]) as conn:
        (stored,) = conn.execute(
            "SELECT count(*) FROM app.usage_events WHERE occurred_at >= %s::timestamptz - "
            "interval '1 day'",
            (start,),
        ).fetchone()
        (quarantined,) = conn.execute("SELECT count(*) FROM ingest.quarantine").fetchone()
    assert stored == expected["accepted"]
    assert quarantined == expected["quarantined"]


def test_the_rollups_hold_every_accepted_event_and_every_check_passed(demo):
    summary = demo["runs"][0][1]
    checks = re.search(r"checks +(\d+)/(\d+) ", summary)
    assert checks and int(checks.group(1)) == int(checks.group(2)) > 0, summary
    rows = re.search(r"rollup rows +([\d,]+) in marts.usage_hourly, ([\d,]+) in", summary)
    assert rows, summary
    warehouse = demo["tmp"] / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        hourly_rows, hourly_requests = con.execute(
            "SELECT count(*), sum(requests) FROM marts.usage_hourly"
        ).fetchone()
        (daily_requests,) = con.execute("SELECT sum(requests) FROM marts.usage_daily").fetchone()
    assert f"{hourly_rows:,}" == rows.group(1)
    # Every accepted event of the generated week is in the hourly and the daily marts.
    accepted = _manifest(demo)["expected_ingest"]["accepted"]
    assert hourly_requests == daily_requests == accepted
    # The analyst snapshot and its example query: an answer, from the published marts.
    assert (demo["tmp"] / "analytics.duckdb").is_file()
    assert re.search(r"organization_slug \| requests \| tokens \| cost_usd\n  \w", summary)


def test_the_run_materializes_every_asset_on_its_instance(demo):
    with dg.DagsterInstance.from_config(str(demo["tmp"] / "home")) as instance:
        never = [
            "/".join(key)
            for key in MATERIALIZED
            if instance.get_latest_materialization_event(dg.AssetKey(key)) is None
        ]
    assert never == []


def test_the_demo_traffic_stays_where_it_was_written(demo):
    # Outside the landing folder: neither ingestion's archiving nor the landing sensor moves it.
    assert demo["traffic"].is_file()
    assert not (demo["traffic"].parent / "processed").exists()


def test_dagster_job_execute_prints_no_supersession_warning_under_make(demo):
    output = demo["runs"][0][0]
    assert "superseded" not in output


def test_a_second_run_stores_nothing_twice_and_says_it_was_a_replay(demo):
    (_, first), (_, second) = demo["runs"]
    line = next(x for x in first.splitlines() if "submitted:" in x)
    assert line in second
    assert "This run was such a replay: nothing was stored twice." in second
    assert "replay" not in first.split("Re-running is safe")[1]
    expected = _manifest(demo)["expected_ingest"]
    with psycopg.connect(demo["url"]) as conn:
        (quarantined,) = conn.execute("SELECT count(*) FROM ingest.quarantine").fetchone()
    assert quarantined == expected["quarantined"]
