"""No configuration is read when Dagster imports the code location (issue 9 §3): a bad
INGEST_CONFIG leaves `dagster_project.definitions` loadable with every stage, and fails only the
ingestion runs and the landing sensor's ticks, with the file and key named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.ingestion.assets import raw_usage_events
from dagster_project.defs.ingestion.resources import IngestResource
from dagster_project.defs.ingestion.sensors import landing_sensor
from dagster_project.lib.ingest.config import IngestError

LOAD_DEFINITIONS = """
import json
from dagster_project.definitions import defs
d = defs()
print(json.dumps(sorted(job.name for job in d.resolve_all_job_defs())))
d.resolve_sensor_def("landing_sensor")
"""


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "ingest.yaml"
    path.write_text("batch_size: lots\n")
    return path


@pytest.mark.parametrize("variable", ["INGEST_CONFIG", "MIGRATE_CONFIG", "PARTITIONS_CONFIG"])
def test_a_bad_config_leaves_the_code_location_loadable(bad_config, variable):
    # A fresh interpreter: the code location is imported with the variable pointing at it.
    result = subprocess.run(
        [sys.executable, "-c", LOAD_DEFINITIONS],
        capture_output=True,
        text=True,
        env={**os.environ, variable: str(bad_config)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"ingest_job", "migrate_job"} <= set(jobs)  # ingestion and the other stages
    assert len(jobs) > 4


def test_a_bad_ingest_config_fails_the_ingestion_run_and_the_sensor_tick(bad_config, tmp_path):
    ingest = IngestResource(
        config_path=str(bad_config),
        # Never reached: the config is read first.
        operational_db=OperationalDatabase(url="postgresql://postgres@127.0.0.1:1/unused"),
    )
    result = dg.materialize(
        [raw_usage_events],
        resources={"ingest": ingest},
        run_config={"ops": {"raw_usage_events": {"config": {"paths": []}}}},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    cause = failure.cause  # Dagster wraps the op's exception
    assert cause is not None and cause.cls_name == "IngestError"
    assert f"{bad_config}: batch_size: expected an integer, got a string 'lots'" in cause.message

    with (
        dg.build_sensor_context(resources={"ingest": ingest}) as context,
        pytest.raises(IngestError, match="batch_size: expected an integer"),
    ):
        landing_sensor(context)
