"""Retention of the ingestion bookkeeping (lib/ingest/retention.py): what is past the declared
retention goes, in small transactions; what is not, or may not go yet, stays."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from ingest_helpers import event, events, make_world, test_config, write_ndjson
from typer.testing import CliRunner

from dagster_project.cli import app
from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.ingestion.assets import ingest_bookkeeping_retention
from dagster_project.lib.docs.classification import ColumnClass, load_classification
from dagster_project.lib.ingest import ingest_file
from dagster_project.lib.ingest.retention import RetentionError, prune, table_retention

TABLES = ("ingest.quarantine", "ingest.touched_event_hours", "ingest.event_keys",
          "ingest.ingestion_batches")  # fmt: skip


@pytest.fixture
def db(operational_db_url: str, tmp_path: Path) -> str:
    """Two loaded batches, each with stored events, keys, touched hours and a quarantined line."""
    make_world(operational_db_url)
    config = test_config(tmp_path)
    for name, start in (("old.ndjson", 0), ("new.ndjson", 100)):
        rows = [*events(5, start=start), {**event(start + 99), "status": "ok"}]
        result = ingest_file(write_ndjson(tmp_path / name, rows), database_url=operational_db_url,
                             config=config)  # fmt: skip
        assert (result.state, result.accepted, result.quarantined) == ("loaded", 5, 1)
    return operational_db_url


def _age_first_batch(url: str) -> None:
    """Make the first batch's bookkeeping look older than every retention."""
    with psycopg.connect(url, autocommit=True) as conn:
        first = conn.execute("SELECT min(id) FROM ingest.ingestion_batches").fetchone()[0]
        for statement in (
            "UPDATE ingest.quarantine SET quarantined_at = now() - interval '91 days' WHERE batch_id = %(b)s",
            "UPDATE ingest.event_keys SET occurred_at = occurred_at - interval '401 days' WHERE batch_id = %(b)s",
            "UPDATE ingest.ingestion_batches SET received_at = now() - interval '401 days' WHERE id = %(b)s",
            "UPDATE ingest.touched_event_hours SET last_touched_at = now() - interval '31 days'",
        ):  # fmt: skip
            conn.execute(statement, {"b": first})


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _prune(url: str, **kwargs):
    with psycopg.connect(url, autocommit=True) as conn:
        return prune(conn, **kwargs)


def test_rows_past_retention_go_and_the_rest_stay(db):
    before = _counts(db)
    assert _prune(db).rows == 0  # nothing is old yet
    _age_first_batch(db)
    dry = _prune(db, dry_run=True)
    assert _counts(db) == before  # a dry run deletes nothing
    # The batch itself still has quarantined lines when the dry run counts: not counted.
    expected = {"ingest.quarantine": 1, "ingest.touched_event_hours": before[TABLES[1]],
                "ingest.event_keys": 5, "ingest.ingestion_batches": 0}  # fmt: skip
    assert {t.table: t.rows for t in dry.tables} == expected
    report = _prune(db, batch_rows=2)  # several transactions per table
    # The real run prunes the quarantine first, so the batch can follow in the same run.
    assert {t.table: t.rows for t in report.tables} == {**expected, "ingest.ingestion_batches": 1}
    after = _counts(db)
    assert after == {"ingest.quarantine": 1, "ingest.touched_event_hours": 0,
                     "ingest.event_keys": 5, "ingest.ingestion_batches": 1}  # fmt: skip
    with psycopg.connect(db) as conn:  # the events are the partitions' business, not this one's
        assert conn.execute("SELECT count(*) FROM app.usage_events").fetchone()[0] == 10
    assert _prune(db).rows == 0  # idempotent


def test_a_batch_that_is_not_finished_is_kept_however_old(db):
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("DELETE FROM ingest.quarantine")
        conn.execute(
            "INSERT INTO ingest.ingestion_batches (content_sha256, source, format, received_at, "
            "reference_time, shards, shard_lines_done) VALUES (sha256('x'), 'stuck.ndjson', "
            "'ndjson', now() - interval '500 days', now(), 1, '{0}')"
        )
        conn.execute("UPDATE ingest.ingestion_batches SET state = 'validating' "
                     "WHERE source = 'stuck.ndjson'")  # fmt: skip
        conn.execute(
            "UPDATE ingest.ingestion_batches SET received_at = now() - interval '500 days'"
        )
    report = _prune(db)
    assert {t.table: t.rows for t in report.tables}["ingest.ingestion_batches"] == 2
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT source, state FROM ingest.ingestion_batches").fetchall() == [
            ("stuck.ndjson", "validating")
        ]


def test_the_retention_comes_from_the_classification():
    classification = load_classification()
    assert [table_retention(classification, t) for t in TABLES] == ["90d", "30d", "400d", "400d"]
    mixed = dataclasses.replace(classification, tables={
        **classification.tables,
        "ingest.quarantine": {**classification.tables["ingest.quarantine"],
                              "reason": ColumnClass("internal", "30d")},
    })  # fmt: skip
    with pytest.raises(RetentionError, match="different retentions"):
        table_retention(mixed, "ingest.quarantine")
    forever = dataclasses.replace(classification, tables={
        "ingest.quarantine": {"reason": ColumnClass("internal", "until_deleted")}})  # fmt: skip
    with pytest.raises(RetentionError, match="cannot be enforced by age"):
        table_retention(forever, "ingest.quarantine")


def test_the_cli_and_the_asset_prune(db, monkeypatch):
    _age_first_batch(db)
    monkeypatch.setenv("DATABASE_URL", db)
    dry = CliRunner().invoke(app, ["ingest-prune", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["dry_run"] is True
    result = dg.materialize(
        [ingest_bookkeeping_retention], resources={"operational_db": OperationalDatabase(url=db)}
    )
    metadata = result.asset_materializations_for_node("ingest_bookkeeping_retention")[0].metadata
    assert metadata["event_keys_deleted"].value == 5
    assert metadata["rows_deleted"].value == json.loads(dry.output)["rows"] + 1  # + the batch


def test_the_ingestion_role_may_not_prune(db, role_url):
    result = CliRunner().invoke(
        app, ["ingest-prune", "--database-url", role_url(db, "platform_ingest")]
    )
    assert result.exit_code == 1
    assert "may not prune the ingest bookkeeping" in result.output
    assert _counts(db)["ingest.event_keys"] == 10  # nothing deleted
