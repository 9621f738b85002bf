"""The UI as a user opens it: dagster-webserver started on a free port against a fresh
DAGSTER_HOME, asked through its GraphQL API for the asset graph, the checks, the schedules and
the sensors, then stopped by its PID. What `make ui` shows: the whole lineage from the
operational events to the analyst views, in groups, with kinds, owners, descriptions and the
checks attached; the schedules and sensors with their default states."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
WEBSERVER = str(Path(sys.executable).with_name("dagster-webserver"))
ROOT = Path(__file__).resolve().parents[2]

ASSETS_QUERY = """
query {
  assetNodes {
    assetKey { path }
    groupName
    kinds
    description
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
}
"""
INSTIGATORS_QUERY = """
query {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          ... on RepositoryLocation {
            repositories {
              jobs { name }
              schedules { name cronSchedule scheduleState { status } }
              sensors { name sensorState { status } }
            }
          }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.load(response)
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    (tmp / "home").mkdir()
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp / "home")}
    log = (tmp / "webserver.log").open("w")
    process = subprocess.Popen(
        [WEBSERVER, "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        # Not the project root: Dagster's CLI would load a developer's .env over `env`.
        cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        # It answers once the code location (the dbt manifest with it) has loaded: 10-60 s on
        # this shared 2-core machine.
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, (tmp / "webserver.log").read_text()[-4000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "dagster-webserver did not answer in 240 s"
                time.sleep(1)
        yield port, process
    finally:
        # Stopped by its PID (its process group: the code server it started goes with it).
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        with socket.socket() as s:  # the port is free again: nothing of it keeps running
            assert s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def assets(webserver) -> dict[str, dict]:
    port, _ = webserver
    nodes = _post(port, ASSETS_QUERY)["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): n for n in nodes}


@pytest.fixture(scope="module")
def repository(webserver) -> dict:
    port, _ = webserver
    entries = _post(port, INSTIGATORS_QUERY)["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in entries] == ["dagster_project"]
    location = entries[0]["locationOrLoadError"]
    assert "repositories" in location, location
    (repo,) = location["repositories"]
    return repo


def _deps(assets, key: str) -> set[str]:
    return {"/".join(d["path"]) for d in assets[key]["dependencyKeys"]}


def _checks(assets, key: str) -> set[str]:
    return {c["name"] for c in assets[key]["assetChecksOrError"]["checks"]}


def test_the_lineage_runs_from_the_operational_events_to_the_analyst_views(assets):
    lineage = [
        ("raw_usage_events", "usage_event_files"),
        ("raw_usage_events", "operational_schema"),
        ("landing/usage_events", "raw_usage_events"),
        ("landing/usage_events", "analytics_schema"),
        ("staging/stg_usage_events", "landing/usage_events"),
        ("increment/usage_hourly_increment", "staging/stg_usage_events"),
        ("marts/usage_hourly", "increment/usage_hourly_increment"),
        ("increment/usage_daily_increment", "staging/stg_usage_events"),
        ("marts/usage_daily", "increment/usage_daily_increment"),
        ("marts/usage_by_org_day", "marts/usage_daily"),
        ("marts/cost_by_model_month", "marts/usage_daily"),
        ("marts/analyst_snapshot", "marts/usage_hourly"),
        ("marts/analyst_snapshot", "marts/usage_daily"),
        ("usage_event_files", "operational_seed"),
        ("operational_seed", "operational_schema"),
        ("platform_rollups", "raw_usage_events"),
    ]
    missing = [(a, b) for a, b in lineage if a not in assets or b not in _deps(assets, a)]
    assert missing == []


def test_every_asset_has_a_group_a_kind_and_a_description(assets):
    groups = {key: node["groupName"] for key, node in assets.items()}
    assert {"migrations", "seeds", "partitions", "ingestion", "warehouse", "rollups", "marts",
            "platform"} <= set(groups.values())  # fmt: skip
    assert groups["landing/usage_events"] == "warehouse"
    assert groups["increment/usage_hourly_increment"] == "rollups"
    assert groups["marts/usage_by_org_day"] == "marts"
    assert [k for k, n in assets.items() if not n["kinds"]] == []
    assert [k for k, n in assets.items() if not (n["description"] or "").strip()] == []
    assert {"team": "data-platform"} in assets["marts/usage_hourly"]["owners"]


def test_the_checks_are_attached_to_their_assets(assets):
    assert {"migrations_healthy"} <= _checks(assets, "operational_schema")
    assert {"migrations_healthy"} <= _checks(assets, "analytics_schema")
    assert {"quarantine_ratio_below_threshold", "every_file_loaded"} <= _checks(
        assets, "raw_usage_events"
    )
    assert {"default_partition_empty"} <= _checks(assets, "usage_event_partitions")
    assert {"great_expectations_landing"} <= _checks(assets, "landing/usage_events")
    assert {"hourly_reconciles", "great_expectations_hourly"} <= _checks(
        assets, "increment/usage_hourly_increment"
    )
    assert {"daily_reconciles", "great_expectations_daily"} <= _checks(
        assets, "increment/usage_daily_increment"
    )
    blocking = {
        c["name"]: c["blocking"]
        for c in assets["increment/usage_hourly_increment"]["assetChecksOrError"]["checks"]
    }
    assert blocking["hourly_reconciles"] and blocking["great_expectations_hourly"]


def test_jobs_schedules_and_sensors_are_listed_with_defaults_that_do_not_surprise(repository):
    jobs = {j["name"] for j in repository["jobs"]}
    assert {"platform_job", "migrate_job", "ingest_job", "hourly_rollup_job",
            "daily_rollup_job"} <= jobs  # fmt: skip
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]}
    assert schedules["hourly_rollup_schedule"] == "RUNNING"
    assert schedules["daily_rollup_schedule"] == "RUNNING"
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    assert set(sensors) >= {"landing_sensor", "late_events_sensor"}
