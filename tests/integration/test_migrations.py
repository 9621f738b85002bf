"""The migration engine against a real PostgreSQL: each guarantee of issue #2 is a test here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from dagster_project.lib.migrations.cycle import catalog_of, smoke
from dagster_project.lib.migrations.errors import (
    ApprovalRequired,
    ChecksumMismatch,
    DirtyDatabase,
    MigrationError,
    OutOfOrder,
)

PLATFORMCTL = [sys.executable, "-m", "dagster_project.cli"]


def rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def history(url: str) -> list[tuple]:
    return rows(url, "SELECT version, dirty FROM platform_meta.schema_migrations ORDER BY version")


def audit_actions(url: str) -> list[tuple]:
    return rows(url, "SELECT action, version FROM platform_meta.migration_audit ORDER BY id")


def table_exists(url: str, name: str) -> bool:
    return rows(url, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0]


def platformctl(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PLATFORMCTL, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        **kwargs,
    )


def test_up_applies_in_order_records_history_audit_and_row_counts(make_runner, fresh_db_url):
    runner = make_runner("basic", fresh_db_url)
    result = runner.up()

    assert result.applied_versions == ["202601010000", "202601010100", "202601010200"]
    assert history(fresh_db_url) == [(v, False) for v in result.applied_versions]
    assert audit_actions(fresh_db_url) == [("apply", v) for v in result.applied_versions]
    first = rows(
        fresh_db_url,
        "SELECT checksum, applied_by, transactional, metadata, duration_ms "
        "FROM platform_meta.schema_migrations ORDER BY version LIMIT 1",
    )[0]
    assert len(first[0]) == 64 and first[1] == "test-suite" and first[2] is True
    assert first[3]["row_counts"]["accounts"] == {"before": None, "after": 2, "exact": True}
    assert first[4] is not None
    assert runner.up().steps == []  # idempotent


def test_transactional_failure_at_statement_k_leaves_nothing(make_runner, fresh_db_url):
    runner = make_runner("failing", fresh_db_url)
    with pytest.raises(MigrationError) as failure:
        runner.up()

    message = str(failure.value)
    assert "202601010000_create_pair.up.sql:4:" in message  # the failing statement's line
    assert "22P02" in message  # invalid_text_representation
    for table in ("first_table", "second_table", "never_created"):
        assert not table_exists(fresh_db_url, table)
    assert history(fresh_db_url) == []
    assert audit_actions(fresh_db_url) == [("failure", "202601010000")]


def test_sigkill_during_non_transactional_migration_then_repair_converges(
    write_migrate_config, make_db_url
):
    url = make_db_url()
    config = write_migrate_config("nontx", url)
    env = {"PGOPTIONS": "-c platform_test.pause_seconds=120", "MIGRATE_ACTOR": "killed-run"}
    process = subprocess.Popen(
        [*PLATFORMCTL, "migrate", "up", "--config", str(config)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for(
        lambda: (
            rows(
                url,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                "current_database() AND query LIKE 'SELECT pg_sleep%%'",
            )[0][0]
            == 1
        )
    )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    # The server notices a dead client only when it next writes to it: end its session the way
    # a crash or a DBA would.
    rows(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )

    status = platformctl("migrate", "status", "--config", str(config), "--json")
    assert status.returncode == 2, status.stderr
    report = json.loads(status.stdout)
    assert report["is_dirty"] and report["dirty"] == ["202601010100_index_items"]
    assert rows(url, "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_items_a'")[0][0] == 1

    refused = platformctl("migrate", "up", "--config", str(config))
    assert refused.returncode == 1 and "dirty" in refused.stderr
    assert "Traceback" not in refused.stderr

    repaired = platformctl("migrate", "repair", "--config", str(config))
    assert repaired.returncode == 0, repaired.stderr
    assert (
        rows(url, "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'idx_items_%%'")[0][0] == 0
    )

    rerun = platformctl("migrate", "up", "--config", str(config))
    assert rerun.returncode == 0, rerun.stderr
    reference = make_db_url()
    reference_config = write_migrate_config("nontx", reference)
    assert platformctl("migrate", "up", "--config", str(reference_config)).returncode == 0
    assert catalog_of(url, _load(config)) == catalog_of(reference, _load(reference_config))
    assert history(url) == [("202601010000", False), ("202601010100", False)]
    assert not rows(url, "SELECT 1 FROM pg_index WHERE NOT indisvalid")
    assert ("repair", "202601010100") in audit_actions(url)


def test_concurrent_up_applies_exactly_once(write_migrate_config, fresh_db_url):
    config = write_migrate_config("slow", fresh_db_url)
    runs = [
        subprocess.Popen(
            [*PLATFORMCTL, "migrate", "up", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum("1 applied" in out for out, _ in outputs) == 1
    assert sum("nothing to do" in out for out, _ in outputs) == 1
    assert audit_actions(fresh_db_url) == [("apply", "202601010000")]


def test_second_up_exits_locked_when_wait_is_exhausted(write_migrate_config, fresh_db_url):
    config = write_migrate_config("slow", fresh_db_url, lock_wait_seconds=0)
    first = subprocess.Popen(
        [*PLATFORMCTL, "migrate", "up", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(
        lambda: (
            rows(
                fresh_db_url,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
            )[0][0]
            == 1
        )
    )
    second = platformctl("migrate", "up", "--config", str(config))
    first.communicate(timeout=60)
    assert first.returncode == 0
    assert second.returncode == 1
    assert "locked" in second.stderr and "Traceback" not in second.stderr
    assert audit_actions(fresh_db_url) == [("apply", "202601010000")]


def test_changed_applied_file_fails_validate_and_up(make_runner, fresh_db_url):
    runner = make_runner("basic", fresh_db_url)
    runner.up()
    changed = runner.target.directory / "202601010100_add_account_status.up.sql"
    content = changed.read_bytes()
    changed.write_bytes(content.replace(b"suspended", b"suspendeD", 1))

    problems = runner.validate()
    assert len(problems) == 1 and str(changed) in problems[0]
    with pytest.raises(ChecksumMismatch, match="202601010100_add_account_status.up.sql"):
        runner.up()
    result = platformctl("migrate", "validate", "--config", str(runner.config.source))
    assert result.returncode == 1 and "202601010100_add_account_status.up.sql" in result.stderr


def test_out_of_order_file_needs_explicit_flag(make_runner, fresh_db_url):
    runner = make_runner("alter", fresh_db_url)
    runner.up()
    directory = runner.target.directory
    (directory / "202601010050_create_late.up.sql").write_text(
        "CREATE TABLE late (id int PRIMARY KEY);"
    )
    (directory / "202601010050_create_late.down.sql").write_text("DROP TABLE late;")

    with pytest.raises(OutOfOrder, match="202601010050_create_late.up.sql"):
        runner.up()
    assert runner.up(allow_out_of_order=True).applied_versions == ["202601010050"]


def test_every_fixture_migration_round_trips_to_an_identical_catalog(
    write_migrate_config, pg_server_url
):
    config = _load(write_migrate_config("basic", pg_server_url))
    report = smoke("operational", config=config)
    assert report.migrations == 3
    assert report.ok, report.failures


def test_smoke_detects_a_down_file_that_leaves_objects_behind(
    write_migrate_config, pg_server_url, tmp_path
):
    config_path = write_migrate_config("basic", pg_server_url)
    leaky = tmp_path / "migrations" / "basic" / "202601010200_create_notes.down.sql"
    leaky.write_text("DROP TABLE notes;\n")  # forgets the function
    report = smoke("operational", config=_load(config_path))
    assert not report.ok
    assert any("note_count" in failure for failure in report.failures)


def test_held_lock_makes_migration_abort_within_lock_timeout(make_runner, fresh_db_url):
    runner = make_runner("alter", fresh_db_url, lock_timeout="300ms")
    runner.up(steps=1)
    with psycopg.connect(fresh_db_url) as blocker:
        blocker.execute("SELECT * FROM ledger")  # holds ACCESS SHARE until the transaction ends
        started = time.monotonic()
        with pytest.raises(MigrationError) as failure:
            runner.up()
        waited = time.monotonic() - started
    assert "55P03" in str(failure.value)  # lock_not_available: aborted, did not queue
    assert waited < 5, "the migration queued instead of giving up after lock_timeout"
    assert history(fresh_db_url) == [("202601010000", False)]
    assert (
        rows(
            fresh_db_url,
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'ledger' AND column_name = 'note'",
        )[0][0]
        == 0
    )


def test_plan_prints_the_sql_in_order_and_changes_nothing(make_runner, fresh_db_url):
    runner = make_runner("basic", fresh_db_url)
    runner.up(steps=1)
    before = (
        catalog_of(fresh_db_url, runner.config),
        history(fresh_db_url),
        audit_actions(fresh_db_url),
    )

    result = platformctl("migrate", "plan", "--config", str(runner.config.source))
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("202601010100_add_account_status") < result.stdout.index(
        "202601010200_create_notes"
    )
    assert (
        "CREATE TYPE account_status" in result.stdout
        and "CREATE TABLE accounts" not in result.stdout
    )
    dry = platformctl("migrate", "up", "--dry-run", "--config", str(runner.config.source))
    assert dry.stdout == result.stdout

    after = (
        catalog_of(fresh_db_url, runner.config),
        history(fresh_db_url),
        audit_actions(fresh_db_url),
    )
    assert after == before


def test_plan_does_not_create_a_missing_database(make_runner, fresh_db_url):
    missing = fresh_db_url + "_never"
    runner = make_runner("basic", missing)
    assert [step.version for step in runner.plan()] == [
        "202601010000",
        "202601010100",
        "202601010200",
    ]
    assert (
        rows(
            fresh_db_url,
            "SELECT count(*) FROM pg_database WHERE datname = %s",
            (missing.rsplit("/", 1)[1],),
        )[0][0]
        == 0
    )


def test_protected_target_needs_two_distinct_approvers(make_runner, fresh_db_url):
    runner = make_runner("alter", fresh_db_url, protected=True)
    with pytest.raises(ApprovalRequired):
        runner.up()
    with pytest.raises(ApprovalRequired):
        runner.up(approved_by=["alice", "Alice "])
    assert not table_exists(fresh_db_url, "ledger")

    runner.up(approved_by=["alice", "bob"])
    with pytest.raises(ApprovalRequired):
        runner.down(approved_by=["alice"])
    runner.down(approved_by=["alice", "carol"])
    recorded = rows(
        fresh_db_url,
        "SELECT action, metadata->'approved_by' FROM platform_meta.migration_audit ORDER BY id",
    )
    assert recorded[0] == ("apply", ["alice", "bob"])
    assert recorded[-1] == ("rollback", ["alice", "carol"])

    cli = platformctl(
        "migrate", "up", "--config", str(runner.config.source), "--approved-by", "alice"
    )
    assert cli.returncode == 1 and "protected" in cli.stderr and "Traceback" not in cli.stderr


def test_down_steps_rolls_back_newest_first_and_audits(make_runner, fresh_db_url):
    runner = make_runner("basic", fresh_db_url)
    runner.up()
    assert runner.down(steps=2).applied_versions == ["202601010200", "202601010100"]
    assert history(fresh_db_url) == [("202601010000", False)]
    assert audit_actions(fresh_db_url)[-2:] == [
        ("rollback", "202601010200"),
        ("rollback", "202601010100"),
    ]


def test_dirty_state_blocks_up_until_repaired(make_runner, fresh_db_url):
    runner = make_runner("basic", fresh_db_url)
    runner.up(steps=1)
    rows(fresh_db_url, "UPDATE platform_meta.schema_migrations SET dirty = true RETURNING 1")
    assert runner.status().dirty == ["202601010000_create_accounts"]
    with pytest.raises(DirtyDatabase, match="repair"):
        runner.up()
    assert runner.repair(mode="mark-applied") == ["202601010000_create_accounts"]
    assert runner.status().healthy
    assert len(runner.up().steps) == 2


def test_status_json_is_a_health_probe(make_runner, fresh_db_url):
    runner = make_runner("basic", fresh_db_url)
    runner.up(steps=2)
    result = platformctl("migrate", "status", "--json", "--config", str(runner.config.source))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["current_version"] == "202601010100"
    assert report["pending_count"] == 1 and report["is_dirty"] is False
    assert report["last_migration_at"]


def test_cli_emits_a_span_per_run_and_per_migration(write_migrate_config, fresh_db_url, tmp_path):
    config = write_migrate_config("alter", fresh_db_url)
    text = config.read_text().replace("exporter: none", "exporter: console")
    config.write_text(text)
    result = platformctl("migrate", "up", "--config", str(config))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    spans = [r for r in records if r.get("type") == "span"]
    per_migration = [s for s in spans if s["name"] == "migrate.up.migration"]
    assert [s["attributes"]["version"] for s in per_migration] == ["202601010000", "202601010100"]
    assert all(
        s["attributes"]["status"] == "ok"
        and s["attributes"]["target"] == "operational"
        and "duration_ms" in s["attributes"]
        and s["attributes"]["slug"]
        for s in per_migration
    )
    run_span = next(s for s in spans if s["name"] == "migrate.up")
    assert all(s["parent_id"] == run_span["span_id"] for s in per_migration)
    assert any(r.get("event") == "migration.applied" for r in records)


def test_bad_input_gives_one_clear_line(tmp_path):
    result = platformctl("migrate", "status", "--config", str(tmp_path / "missing.yaml"))
    assert result.returncode == 1
    assert "missing.yaml" in result.stderr and "Traceback" not in result.stderr


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def _load(path: Path):
    from dagster_project.lib.migrations.config import load_config

    return load_config(path)


def test_slow_migration_is_flagged_in_history_and_audit(make_runner, fresh_db_url):
    runner = make_runner("slow", fresh_db_url, long_running_warning_seconds=0.5)
    step = runner.up().steps[0]
    assert step.warnings and "longer than the 0.5s threshold" in step.warnings[0]
    recorded = rows(
        fresh_db_url,
        "SELECT h.metadata->'warnings', a.metadata->'warnings' FROM platform_meta.schema_migrations h "
        "JOIN platform_meta.migration_audit a USING (version) WHERE a.action = 'apply'",
    )
    assert recorded == [(step.warnings, step.warnings)]


def test_measure_window_reports_against_the_targets(write_migrate_config, pg_server_url):
    config = write_migrate_config("basic", pg_server_url)
    result = platformctl("migrate", "measure-window", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["migrations"] == 3 and report["ok"] is True
    assert 0 < report["apply_seconds"] < report["apply_window_seconds"]
    assert 0 < report["rollback_seconds"] < report["rollback_window_seconds"]


HISTORY_WRITE_LOG = """
CREATE TABLE public.history_writes (id serial PRIMARY KEY, op text, version text);
CREATE FUNCTION public.log_history_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.history_writes (op, version) VALUES (TG_OP, coalesce(NEW.version, OLD.version));
    RETURN NULL;
END $$;
CREATE TRIGGER trg_log_history_write AFTER INSERT OR UPDATE OR DELETE
    ON platform_meta.schema_migrations FOR EACH ROW EXECUTE FUNCTION public.log_history_write();
"""


def test_each_transactional_migration_writes_its_history_row_once(make_runner, fresh_db_url):
    """One INSERT per applied migration, with its duration and row counts, in its transaction;
    one DELETE per rolled-back one (a trigger on the history table counts from outside)."""
    from dagster_project.lib.migrations.drivers import open_driver

    with open_driver(fresh_db_url) as driver:
        driver.ensure_meta()
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(HISTORY_WRITE_LOG)
    runner = make_runner("basic", fresh_db_url)
    runner.up()
    runner.down(steps=1)
    writes = rows(fresh_db_url, "SELECT op, version FROM public.history_writes ORDER BY id")
    assert writes == [
        ("INSERT", "202601010000"),
        ("INSERT", "202601010100"),
        ("INSERT", "202601010200"),
        ("DELETE", "202601010200"),
    ]
    recorded = rows(
        fresh_db_url,
        "SELECT duration_ms IS NOT NULL, metadata ? 'row_counts' FROM platform_meta.schema_migrations",
    )
    assert recorded == [(True, True), (True, True)]
    assert rows(
        fresh_db_url,
        "SELECT metadata #> '{row_counts,accounts,after}' FROM platform_meta.schema_migrations "
        "WHERE version = '202601010000'",
    ) == [(2,)]


def test_the_operational_audit_log_is_a_hook_of_the_application(make_runner, operational_db_url):
    """The PostgreSQL driver writes only the engine's audit table; the platform's audit_log
    record comes from the runner's application hook, and a runner may be given other hooks."""
    from dagster_project.lib.migrations.drivers import open_driver
    from dagster_project.lib.migrations.drivers.base import AuditRecord

    def audit_log_count() -> int:
        return rows(operational_db_url, "SELECT count(*) FROM app.audit_log")[0][0]

    before = audit_log_count()
    with open_driver(operational_db_url) as driver:
        driver.write_audit(AuditRecord("driver-only", "repair", "operational", "1"))
    assert audit_log_count() == before

    seen: list[tuple[str, str]] = []
    runner = make_runner("basic", operational_db_url + "_hooks")
    runner.audit_hooks = [lambda driver, record: seen.append((driver.kind, record.action))]
    try:
        runner.up(steps=1)
    finally:
        from dagster_project.lib.db.postgres import drop_database

        drop_database(operational_db_url + "_hooks")
    assert seen == [("postgres", "apply")]
