"""kill -9 in the middle of a batch, then a rerun of the same file: exactly the rows and counts
of an uninterrupted run. The CLI runs in a child that pauses the loader at a known point from
outside (paused_ingest_cli.py: no test hook in the load path), and the test kills it there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import yaml
from ingest_helpers import event, events, make_world, quarantine, stored, test_config, write_ndjson

from dagster_project.lib.ingest import ingest_file

PAUSED_CLI = Path(__file__).parent / "paused_ingest_cli.py"


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ingest.yaml"
    path.write_text(yaml.safe_dump({
        "landing_dir": str(tmp_path / "landing"), "batch_size": 500, "shards": 2,
        "max_attempts": 1,
    }))  # fmt: skip
    return path


def _comparable(url: str) -> tuple:
    rows = [r[:3] + r[4:] for r in stored(url)]  # received_at is the batch's own arrival time
    with psycopg.connect(url) as conn:
        counts = conn.execute(
            "SELECT state, submitted, accepted, duplicates, quarantined, late, shard_lines_done "
            "FROM ingest.ingestion_batches"
        ).fetchall()
        touched = conn.execute(
            "SELECT organization_id, event_hour, rows_added FROM ingest.touched_event_hours ORDER BY 1, 2"
        ).fetchall()
    return rows, counts, [q[:2] for q in quarantine(url)], touched


def test_kill_9_mid_batch_then_rerun_gives_exactly_the_uninterrupted_result(
    operational_databases, tmp_path
):
    rows = events(4000) + events(300)  # 300 repeats (duplicates across chunks)
    rows[1500] = event(1500, input_tokens=-1)  # an invalid one, in a later chunk
    rows += [event(n, ago=timedelta(hours=50)) for n in range(5000, 5200)]  # late, other day
    path = write_ndjson(tmp_path / "usage.ndjson", rows)
    config_path = _config_file(tmp_path)

    clean = operational_databases.create()
    make_world(clean)
    ingest_file(path, database_url=clean, config=test_config(tmp_path, batch_size=500))

    crashed = operational_databases.create()
    make_world(crashed)
    marker = tmp_path / "paused"
    process = subprocess.Popen(
        [sys.executable, str(PAUSED_CLI), str(marker), "4", "0",  # chunk 4, shard 0: staged
         "ingest", str(path), "--database-url", crashed, "--config", str(config_path), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the loader never reached the pause point"
            time.sleep(0.05)
        time.sleep(0.5)  # let the other shard commit what it can
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL

    with psycopg.connect(crashed) as conn:
        state, done, accepted = conn.execute(
            "SELECT state, shard_lines_done, accepted FROM ingest.ingestion_batches"
        ).fetchone()
    # Half-way, unevenly: shard 0 stopped inside chunk 4, shard 1 went on.
    assert state == "validating" and 0 < accepted < 4199
    assert done[0] == 1500 < done[1]

    rerun = ingest_file(path, database_url=crashed, config=test_config(tmp_path, batch_size=500))
    assert (rerun.state, rerun.attempts) == ("loaded", 2)
    assert _comparable(crashed) == _comparable(clean)
    assert (rerun.submitted, rerun.accepted, rerun.duplicates, rerun.quarantined) == (
        4500,
        4199,
        300,
        1,
    )
