"""Partition maintenance of app.usage_events on a migrated PostgreSQL: lib, Dagster asset and
checks, CLI. Day math takes an explicit `today` far from the real one, so the migration's own
partitions (around the real today) never overlap the days a test reasons about."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from typer.testing import CliRunner

from dagster_project.cli import app as cli_app
from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.partitions.assets import usage_event_partitions
from dagster_project.defs.partitions.checks import default_partition_empty, needed_partitions_exist
from dagster_project.defs.partitions.resources import PartitionMaintenanceResource
from dagster_project.lib import partitions
from dagster_project.lib.partitions.config import DEFAULT_CONFIG_PATH
from dagster_project.lib.partitions.maintenance import midnight

T = date(2031, 3, 10)  # a fixed "today", years away from the migration's initial partitions


def day_name(day: date) -> str:
    return f"app.usage_events_p{day:%Y%m%d}"


@pytest.fixture
def policy() -> partitions.Policy:
    return partitions.load_policy()


@pytest.fixture
def conn(operational_db_url: str) -> Iterator[psycopg.Connection]:
    with partitions.connect(operational_db_url) as connection:
        yield connection


@pytest.fixture
def org_id(conn: psycopg.Connection) -> uuid.UUID:
    return conn.execute(
        "INSERT INTO app.organizations (slug, name) VALUES ('acme', 'Acme') RETURNING id"
    ).fetchone()[0]


def insert_event(conn: psycopg.Connection, org_id: uuid.UUID, at: datetime) -> None:
    conn.execute(
        "INSERT INTO app.usage_events (occurred_at, organization_id, model_id, input_tokens,"
        " output_tokens, latency_ms, event_id, operation, status, cost_usd, price_id)"
        " VALUES (%s, %s, gen_random_uuid(), 1, 1, 1, gen_random_uuid()::text, 'chat.completion',"
        " 'success', 0, 0)",
        (at, org_id),
    )


def regclass(conn: psycopg.Connection, name: str) -> str | None:
    return conn.execute("SELECT to_regclass(%s)::text", (name,)).fetchone()[0]


# -- lib ----------------------------------------------------------------------------------------


def test_ensure_creates_exactly_the_missing_days_and_is_idempotent(conn, policy):
    conn.execute("SELECT app.ensure_usage_partitions(%s, %s)", (T, T + timedelta(days=3)))
    window = partitions.needed_days(policy, T)
    assert len(window) == policy.lookback_days + 1 + policy.future_days
    expected = sorted(
        {day_name(d) for d in window} - {day_name(T + timedelta(n)) for n in range(3)}
    )

    assert partitions.ensure(conn, today=T, policy=policy) == expected
    assert partitions.ensure(conn, today=T, policy=policy) == []

    report = partitions.status(conn, today=T, policy=policy)
    assert report.healthy and report.missing_days == []
    by_name = {p.name: p for p in report.partitions}
    assert by_name[day_name(T)].lower == midnight(T)
    assert by_name[day_name(T)].upper == midnight(T + timedelta(days=1))


def test_status_reports_missing_days(conn, policy):
    partitions.ensure(conn, today=T, policy=policy)
    conn.execute(f"DROP TABLE {day_name(T + timedelta(days=5))}, {day_name(T - timedelta(days=2))}")
    report = partitions.status(conn, today=T, policy=policy)
    assert report.missing_days == [T - timedelta(days=2), T + timedelta(days=5)]
    assert not report.healthy


def test_rows_outside_every_partition_fail_loudly(conn, org_id):
    with pytest.raises(psycopg.errors.CheckViolation, match="no partition of relation"):
        insert_event(conn, org_id, datetime(2100, 1, 1, 12, tzinfo=UTC))


def test_prune_detaches_expired_partitions_and_keeps_the_rest(conn, policy, org_id):
    partitions.ensure(conn, today=T, policy=policy)
    oldest = T - timedelta(days=policy.lookback_days)
    insert_event(conn, org_id, midnight(oldest) + timedelta(hours=12))
    later = T + timedelta(days=policy.retention_days + 3)  # cutoff T+3: days up to T+2 expire
    before = partitions.status(conn, today=later, policy=policy)
    expired = {p.name for p in before.partitions if p.upper <= midnight(T + timedelta(days=3))}
    assert day_name(T + timedelta(days=2)) in expired
    assert day_name(T + timedelta(days=3)) not in expired
    assert set(before.expired) == expired

    plan = partitions.prune(conn, today=later, dry_run=True, policy=policy)
    assert partitions.status(conn, today=later, policy=policy).partitions == before.partitions

    result = partitions.prune(conn, today=later, policy=policy)
    assert {r.partition for r in result.retired} == expired
    assert result.retired == plan.retired
    assert {r.detach for r in result.retired} == {"concurrently"}

    after = partitions.status(conn, today=later, policy=policy)
    assert {p.name for p in after.partitions} == {p.name for p in before.partitions} - expired
    assert set(after.detached) == {f"{name}_detached" for name in expired}
    kept = f"{day_name(oldest)}_detached"
    assert conn.execute(f"SELECT count(*) FROM {kept}").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM app.usage_events").fetchone()[0] == 0
    assert (
        "detached by partition maintenance"
        in conn.execute("SELECT obj_description(%s::regclass, 'pg_class')", (kept,)).fetchone()[0]
    )
    assert partitions.prune(conn, today=later, policy=policy).retired == []


def test_prune_drop_removes_expired_tables(conn, policy):
    policy = dataclasses.replace(policy, on_expiry="drop")
    partitions.ensure(conn, today=T, policy=policy)
    later = T + timedelta(days=policy.retention_days)  # cutoff T: every day before T expires
    result = partitions.prune(conn, today=later, policy=policy)
    names = {r.partition for r in result.retired}
    assert day_name(T - timedelta(days=1)) in names and day_name(T) not in names
    assert all(r.kept_as is None for r in result.retired)
    assert all(regclass(conn, name) is None for name in names)
    assert regclass(conn, day_name(T)) == day_name(T)
    assert partitions.status(conn, today=later, policy=policy).detached == []


def test_interrupted_concurrent_detach_is_finalized_by_the_next_prune(
    conn, policy, operational_db_url
):
    partitions.ensure(conn, today=T, policy=policy)
    later = T + timedelta(days=policy.retention_days)
    # DETACH ... CONCURRENTLY waits for transactions that still see the partition: an open
    # REPEATABLE READ reader makes it time out after it marked the partition detach pending.
    impatient = dataclasses.replace(policy, detach_lock_timeout_ms=200)
    with psycopg.connect(operational_db_url) as reader:
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        reader.execute("SELECT count(*) FROM app.usage_events").fetchone()
        with pytest.raises(partitions.PartitionError, match="lock not granted"):
            partitions.prune(conn, today=later, policy=impatient)
        reader.rollback()
    pending = [p for p in partitions.status(conn, policy=policy).partitions if p.detach_pending]
    assert len(pending) == 1

    result = partitions.prune(conn, today=later, policy=policy)
    assert result.retired[0].partition == pending[0].name
    assert result.retired[0].detach == "finalize"
    assert regclass(conn, f"{pending[0].name}_detached")
    assert not any(p.detach_pending for p in partitions.status(conn, policy=policy).partitions)


def test_prune_finishes_a_partition_detached_by_an_interrupted_run(conn, policy):
    partitions.ensure(conn, today=T, policy=policy)
    orphan = day_name(T - timedelta(days=1))
    conn.execute(f"ALTER TABLE app.usage_events DETACH PARTITION {orphan}")
    assert partitions.status(conn, today=T, policy=policy).orphans == [orphan]
    result = partitions.prune(conn, today=T + timedelta(days=policy.retention_days), policy=policy)
    assert any(r.partition == orphan and r.detach == "already detached" for r in result.retired)
    assert regclass(conn, orphan) is None and regclass(conn, f"{orphan}_detached")


def test_default_partition_rows_are_reported_and_prune_detaches_without_concurrently(
    conn, policy, org_id
):
    partitions.ensure(conn, today=T, policy=policy)
    conn.execute("CREATE TABLE app.usage_events_default PARTITION OF app.usage_events DEFAULT")
    insert_event(conn, org_id, midnight(date(2100, 1, 1)))
    report = partitions.status(conn, today=T, policy=policy)
    assert (report.default_partition, report.default_rows) == ("app.usage_events_default", 1)
    assert not report.healthy
    result = partitions.prune(conn, today=T + timedelta(days=policy.retention_days), policy=policy)
    assert result.retired and {r.detach for r in result.retired} == {"plain"}


def test_prune_refuses_a_transaction_connection(operational_db_url, policy):
    with psycopg.connect(operational_db_url) as conn, pytest.raises(partitions.PartitionError):
        partitions.prune(conn, policy=policy)


def test_config_rejects_retention_inside_the_lookback(tmp_path: Path):
    path = tmp_path / "partitions.yaml"
    text = DEFAULT_CONFIG_PATH.read_text()
    path.write_text(text.replace("retention_days: 400", "retention_days: 3"))
    with pytest.raises(partitions.PartitionError, match="retention_days must exceed"):
        partitions.load_policy(path=path)


# -- Dagster ------------------------------------------------------------------------------------


def test_asset_and_checks_with_real_resources(conn, operational_db_url, org_id, policy):
    resource = PartitionMaintenanceResource(
        operational_db=OperationalDatabase(url=operational_db_url)
    )
    everything = [usage_event_partitions, needed_partitions_exist, default_partition_empty]
    checks_only = dg.AssetSelection.checks(needed_partitions_exist, default_partition_empty)

    def run(selection=None) -> dict[str, bool]:
        result = dg.materialize(
            everything,
            resources={"partition_maintenance": resource},
            selection=selection,
            raise_on_error=False,
        )
        return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}

    result = dg.materialize(everything, resources={"partition_maintenance": resource})
    metadata = result.asset_materializations_for_node("usage_event_partitions")[0].metadata
    assert metadata["created"].value == [] and metadata["detached"].value == []
    assert metadata["partition_count"].value == len(
        partitions.needed_days(policy, partitions.today_utc())
    )
    assert {e.check_name: e.passed for e in result.get_asset_check_evaluations()} == {
        "needed_partitions_exist": True,
        "default_partition_empty": True,
    }

    tomorrow = partitions.today_utc() + timedelta(days=1)
    conn.execute(f"DROP TABLE {day_name(tomorrow)}")
    assert run(checks_only)["needed_partitions_exist"] is False
    healed = dg.materialize(everything, resources={"partition_maintenance": resource})
    materialization = healed.asset_materializations_for_node("usage_event_partitions")[0]
    assert materialization.metadata["created"].value == [day_name(tomorrow)]
    assert all(e.passed for e in healed.get_asset_check_evaluations())

    conn.execute("CREATE TABLE app.usage_events_default PARTITION OF app.usage_events DEFAULT")
    assert run(checks_only) == {"needed_partitions_exist": True, "default_partition_empty": True}
    insert_event(conn, org_id, midnight(date(2100, 1, 1)))
    assert run(checks_only)["default_partition_empty"] is False


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_status_exit_code_and_json(conn, operational_db_url):
    cli = CliRunner()
    args = ["partitions", "status", "--json", "--database-url", operational_db_url]
    ok = cli.invoke(cli_app, args)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["healthy"] is True

    conn.execute(f"DROP TABLE {day_name(partitions.today_utc())}")
    broken = cli.invoke(cli_app, args)
    assert broken.exit_code == 2
    assert json.loads(broken.stdout)["missing_days"] == [str(partitions.today_utc())]

    ensured = cli.invoke(cli_app, ["partitions", "ensure", "--database-url", operational_db_url])
    assert ensured.exit_code == 0 and day_name(partitions.today_utc()) in ensured.stdout
    dry = cli.invoke(
        cli_app, ["partitions", "prune", "--dry-run", "--database-url", operational_db_url]
    )
    assert dry.exit_code == 0 and "0 partition(s) would retire" in dry.stdout


def test_one_default_partition_check_runs_in_both_stages():
    """Issue 9 §8: one default-partition check (there were two, one per stage), selected by the
    partition maintenance job and by the ingest job."""
    from dagster_project.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    checks = [key for key in graph.asset_check_keys if "default" in key.name]
    assert checks == [dg.AssetCheckKey(usage_event_partitions.key, "default_partition_empty")]
    for job in ("partition_maintenance_job", "ingest_job"):
        assert (
            checks[0] in definitions.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys
        )
