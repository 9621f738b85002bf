"""configs/dagster.postgres.yaml works: a Dagster run executed with it lands in PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from dagster_project.lib.db import postgres

TINY_JOB = """\
from dagster import job, op


@op
def answer() -> int:
    return 42


@job
def tiny_job():
    answer()
"""


@pytest.mark.slow
def test_a_run_is_recorded_in_postgres_storage(
    fresh_db_url: str, project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(project_root / "configs" / "dagster.postgres.yaml", home / "dagster.yaml")
    job_file = tmp_path / "tiny_job.py"
    job_file.write_text(TINY_JOB)
    pg_url = "postgresql+psycopg2://" + postgres.normalize_url(fresh_db_url).split("://", 1)[1]

    # As an operator would run it: the CLI, DAGSTER_HOME and DAGSTER_PG_URL from the environment.
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_URL": pg_url}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-f", str(job_file), "-j", "tiny_job"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]

    with psycopg.connect(fresh_db_url) as conn:
        runs = conn.execute("SELECT run_id, pipeline_name, status FROM runs").fetchall()
        assert [(name, status) for _, name, status in runs] == [("tiny_job", "SUCCESS")]
        run_id = runs[0][0]
        events = {
            row[0]
            for row in conn.execute(
                "SELECT dagster_event_type FROM event_logs"
                " WHERE run_id = %s AND dagster_event_type IS NOT NULL",
                (run_id,),
            )
        }
    # Stored under their legacy names (RUN_START is 'PIPELINE_START').
    expected = {
        DagsterEventType.RUN_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.RUN_SUCCESS,
    }
    assert {e.value for e in expected} <= events, sorted(events)
    # Nothing fell back to the SQLite default under DAGSTER_HOME.
    assert not list(home.rglob("*.db"))

    # The same config read in-process (as the webserver and daemon do) sees the run.
    monkeypatch.setenv("DAGSTER_PG_URL", pg_url)
    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
        assert type(instance.run_storage).__module__.startswith("dagster_postgres")
