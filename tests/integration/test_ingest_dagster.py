"""The ingestion stage in Dagster: the asset's count metadata, its two checks, the sensor."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from ingest_helpers import event, events, make_world, write_ndjson

from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.ingestion.assets import raw_usage_events
from dagster_project.defs.ingestion.jobs import DEFAULT_PARTITION_CHECK
from dagster_project.defs.ingestion.resources import IngestResource
from dagster_project.defs.ingestion.sensors import landing_sensor
from dagster_project.defs.partitions.assets import usage_event_partitions
from dagster_project.defs.partitions.checks import default_partition_empty
from dagster_project.defs.partitions.resources import PartitionMaintenanceResource


@pytest.fixture
def db(operational_db_url: str) -> str:
    make_world(operational_db_url)
    return operational_db_url


@pytest.fixture
def ingest(tmp_path: Path, db: str) -> IngestResource:
    config = tmp_path / "ingest.yaml"
    config.write_text(yaml.safe_dump({
        "landing_dir": str(tmp_path / "landing"), "batch_size": 500, "max_attempts": 1,
        "quarantine_ratio_threshold": 0.05, "min_file_age_seconds": 1,
    }))  # fmt: skip
    (tmp_path / "landing").mkdir()
    return IngestResource(config_path=str(config), operational_db=OperationalDatabase(url=db))


def _land(tmp_path: Path, name: str, rows: list) -> Path:
    path = write_ndjson(tmp_path / "landing" / name, rows)
    old = time.time() - 60
    os.utime(path, (old, old))  # older than min_file_age_seconds
    return path


def _materialize(
    ingest: IngestResource, paths: list[Path] | None = None, *, raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"raw_usage_events": {"config": {"paths": [str(p) for p in paths or []]}}}}
    # ingest_job's selection: the asset with its checks, and the one default-partition check
    maintenance = PartitionMaintenanceResource(operational_db=ingest.operational_db)
    return dg.materialize(
        [raw_usage_events, usage_event_partitions, default_partition_empty],
        selection=dg.AssetSelection.assets(raw_usage_events)
        | dg.AssetSelection.checks(DEFAULT_PARTITION_CHECK),
        resources={"ingest": ingest, "partition_maintenance": maintenance}, run_config=run_config,
        raise_on_error=raise_on_error,  # a failed blocking check fails the run
    )  # fmt: skip


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_the_asset_reports_counts_and_archives_landing_files(ingest, tmp_path):
    landed = _land(
        tmp_path, "usage.ndjson", events(300) + events(10) + [event(999, input_tokens=-1)]
    )
    result = _materialize(ingest)
    assert result.success
    metadata = result.asset_materializations_for_node("raw_usage_events")[0].metadata
    counts = {
        k: metadata[k].value
        for k in ("submitted", "accepted", "duplicates", "quarantined", "files")
    }
    assert counts == {
        "submitted": 311,
        "accepted": 300,
        "duplicates": 10,
        "quarantined": 1,
        "files": 1,
    }
    assert _checks(result) == {
        "quarantine_ratio_below_threshold": True,
        "every_file_loaded": True,
        "default_partition_empty": True,
    }
    assert not landed.exists()
    assert [p.name for p in (tmp_path / "landing" / "processed").rglob("*.ndjson")] == [
        "usage.ndjson"
    ]


def test_the_quarantine_ratio_check_fails_over_the_threshold(ingest, tmp_path):
    rows = events(90) + [event(500 + n, status="ok") for n in range(10)]  # 10% invalid > 5%
    result = _materialize(ingest, [write_ndjson(tmp_path / "bad.ndjson", rows)])
    assert _checks(result)["quarantine_ratio_below_threshold"] is False
    assert (tmp_path / "bad.ndjson").exists()  # not a landing file: left where it was


def _land_text(tmp_path: Path, name: str, text: str, age: float = 60) -> Path:
    path = tmp_path / "landing" / name
    path.write_text(text)
    old = time.time() - age
    os.utime(path, (old, old))
    return path


def _dead_letter(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "landing" / "dead_letter"
    return {p.name: p.read_text() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def test_a_failed_file_goes_to_dead_letter_with_its_reason_and_fails_the_step(ingest, db, tmp_path):
    _land_text(tmp_path, "broken.csv", "", age=120)  # first in line: the oldest
    good = _land(tmp_path, "good.ndjson", events(5))
    result = _materialize(ingest, raise_on_error=False)
    assert not result.success  # a failed step, not a green run
    assert _checks(result)["every_file_loaded"] is False
    metadata = result.asset_materializations_for_node("raw_usage_events")[0].metadata
    assert (metadata["accepted"].value, metadata["failed_files"].value) == (5, 1)
    assert not good.exists() and not (tmp_path / "landing" / "broken.csv").exists()
    letters = _dead_letter(tmp_path)
    assert set(letters) == {"broken.csv", "broken.csv.reason.txt"}
    assert (
        "broken.csv: dead_lettered after 1 attempt: the file is empty"
        in letters["broken.csv.reason.txt"]
    )


def test_a_resent_dead_lettered_file_never_blocks_the_files_behind_it(ingest, db, tmp_path):
    _land_text(tmp_path, "broken.csv", "")
    assert not _materialize(ingest, raise_on_error=False).success
    for run in range(2):  # re-sent twice, each time ahead of a good file
        _land_text(tmp_path, "broken.csv", "", age=120)
        good = _land(tmp_path, f"good{run}.ndjson", events(3, start=10 * run))
        result = _materialize(ingest, raise_on_error=False)
        assert not result.success
        assert not good.exists()  # ingested and archived, not stuck behind the bad file
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM app.usage_events").fetchone() == (6,)
    letters = _dead_letter(tmp_path)
    assert sorted(n for n in letters if not n.endswith(".reason.txt")) == [
        "broken.1.csv", "broken.2.csv", "broken.csv"
    ]  # fmt: skip
    assert "dead-lettered earlier" in letters["broken.2.csv.reason.txt"]
    assert list((tmp_path / "landing").glob("*.csv")) == []


def test_the_quarantine_check_fails_when_a_file_had_nothing_accepted(ingest, tmp_path):
    good = write_ndjson(tmp_path / "good.ndjson", events(100))
    bad = write_ndjson(tmp_path / "bad.ndjson", [event(500 + n, status="ok") for n in range(3)])
    result = _materialize(ingest, [good, bad], raise_on_error=False)  # 3 of 103: under 5%
    assert _checks(result) == {  # the default-partition check is usage_event_partitions': it runs
        "quarantine_ratio_below_threshold": False,
        "every_file_loaded": False,
        "default_partition_empty": True,
    }
    assert not result.success


def test_the_default_partition_check_fails_when_rows_land_there(ingest, db, tmp_path):
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE TABLE app.usage_events_default PARTITION OF app.usage_events DEFAULT")
        conn.execute("ALTER TABLE app.usage_events_default OWNER TO platform_owner")
    result = _materialize(ingest, [write_ndjson(tmp_path / "a.ndjson", events(5))])
    assert _checks(result)["default_partition_empty"] is True  # empty: fine
    with psycopg.connect(db, autocommit=True) as conn:  # a row no daily partition covers
        conn.execute(
            "INSERT INTO app.usage_events (organization_id, event_id, occurred_at, model_id, "
            "operation, input_tokens, output_tokens, latency_ms, status, cost_usd, price_id) SELECT "
            "organization_id, 'stray', '2001-01-01', model_id, operation, 1, 1, 1, 'success', 0, "
            "price_id "
            "FROM app.usage_events LIMIT 1"
        )
    result = _materialize(
        ingest, [write_ndjson(tmp_path / "b.ndjson", events(5, start=10))], raise_on_error=False
    )
    assert _checks(result)["default_partition_empty"] is False
    assert not result.success  # blocking: the run says so too


def test_the_sensor_requests_a_run_for_new_landing_files(ingest, tmp_path):
    # A context manager: the ingest resource nests operational_db, which Dagster opens.
    with dg.build_sensor_context(resources={"ingest": ingest}) as context:
        _sensor_requests(context, tmp_path)


def _sensor_requests(context: dg.SensorEvaluationContext, tmp_path: Path) -> None:
    assert isinstance(landing_sensor(context), dg.SkipReason)
    landing = tmp_path / "landing"
    (landing / ".incoming.ndjson").write_text("{}\n")  # hidden: still being written
    (landing / "part.ndjson.tmp").write_text("{}\n")
    fresh = write_ndjson(landing / "fresh.ndjson", events(3))  # too recent (1 s)
    landed = _land(tmp_path, "usage.ndjson", events(3))
    request = landing_sensor(context)
    assert isinstance(request, dg.RunRequest)
    paths = request.run_config["ops"]["raw_usage_events"]["config"]["paths"]
    assert paths == [str(landed)]
    os.utime(fresh, (time.time() - 60,) * 2)
    again = landing_sensor(context)
    assert again.run_config["ops"]["raw_usage_events"]["config"]["paths"] == [
        str(landed),
        str(fresh),
    ]  # oldest first
    assert again.run_key != request.run_key
