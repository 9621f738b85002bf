"""`platformctl migrate status` / `validate` are an honest health probe (issue 9 §2), and the
runner refuses what would silently half-work (§3 --steps, §6 transaction control in a file).

Only "the database answers and has no history yet" is an empty target. Everything else that
stops the probe from reading the history has its own exit code and one line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project.lib.db.postgres import with_database
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.errors import (
    AuthenticationRefused,
    DatabaseMissing,
    MigrationError,
    PrivilegesMissing,
    ServerUnreachable,
    TransactionControlInFile,
)
from dagster_project.lib.migrations.runner import Runner

PLATFORMCTL = [sys.executable, "-m", "dagster_project.cli"]
EXIT_DATABASE_MISSING, EXIT_LOGIN_REFUSED, EXIT_UNREACHABLE, EXIT_PRIVILEGES = 3, 4, 5, 6
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "migrations"


def platformctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PLATFORMCTL, *args], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )


def one_clear_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def login_role(pg_server_url: str) -> Iterator[str]:
    """A throwaway LOGIN role with no privileges beyond PUBLIC's; dropped afterwards."""
    name = f"test_role_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = with_database(pg_server_url, "postgres")
    rows(admin, f'CREATE ROLE "{name}" LOGIN')
    yield name
    rows(admin, f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def probe_config(write_migrate_config) -> Callable[[str], Path]:
    """A migrate.yaml for fixture set `basic` on `url`, connecting once (no retries)."""
    return lambda url: write_migrate_config("basic", url)


# -- §2: every way the probe can fail to read the target has its own code ----------------------


def test_status_and_validate_on_a_missing_database_exit_3(probe_config, fresh_db_url):
    config = probe_config(fresh_db_url + "_missing")
    for command in ("status", "validate"):
        result = platformctl("migrate", command, "--config", str(config))
        assert result.returncode == EXIT_DATABASE_MISSING, (command, result.stdout, result.stderr)
        assert "does not exist" in one_clear_line(result)
        assert "valid" not in result.stdout and "pending" not in result.stdout
    with pytest.raises(DatabaseMissing):
        Runner("operational", config=load_config(config)).status()
    # the probe created nothing
    name = (fresh_db_url + "_missing").rsplit("/", 1)[1]
    assert rows(fresh_db_url, "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)) == [
        (0,)
    ]


def test_status_with_an_unknown_role_exits_4(probe_config, fresh_db_url, role_url):
    config = probe_config(role_url(fresh_db_url, f"no_such_role_{uuid.uuid4().hex[:8]}"))
    result = platformctl("migrate", "status", "--config", str(config))
    assert result.returncode == EXIT_LOGIN_REFUSED, (result.stdout, result.stderr)
    assert "refused the login" in one_clear_line(result)
    with pytest.raises(AuthenticationRefused):
        Runner("operational", config=load_config(config)).validate()


def test_status_with_no_server_exits_5(write_migrate_config, pg_server_url):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/platform"
    config = write_migrate_config("basic", url)
    result = platformctl("migrate", "status", "--config", str(config))
    assert result.returncode == EXIT_UNREACHABLE, (result.stdout, result.stderr)
    assert "no PostgreSQL server answers" in one_clear_line(result)
    with pytest.raises(ServerUnreachable):
        Runner("operational", config=load_config(config)).status()


def test_status_without_connect_privilege_exits_6(probe_config, fresh_db_url, role_url, login_role):
    rows(fresh_db_url, f'REVOKE CONNECT ON DATABASE "{fresh_db_url.rsplit("/", 1)[1]}" FROM PUBLIC')
    config = probe_config(role_url(fresh_db_url, login_role))
    result = platformctl("migrate", "status", "--config", str(config))
    assert result.returncode == EXIT_PRIVILEGES, (result.stdout, result.stderr)
    assert "may not connect" in one_clear_line(result)


def test_status_without_access_to_the_history_exits_6(
    probe_config, make_runner, fresh_db_url, role_url, login_role
):
    make_runner("basic", fresh_db_url).up(steps=1)
    config = probe_config(role_url(fresh_db_url, login_role))
    result = platformctl("migrate", "status", "--config", str(config))
    assert result.returncode == EXIT_PRIVILEGES, (result.stdout, result.stderr)
    assert "platform_meta" in one_clear_line(result)
    with pytest.raises(PrivilegesMissing):
        Runner("operational", config=load_config(config)).validate()


def test_an_answering_database_without_history_is_the_one_empty_target(probe_config, fresh_db_url):
    result = platformctl("migrate", "status", "--json", "--config", str(probe_config(fresh_db_url)))
    assert result.returncode == 0, result.stderr
    assert '"applied": 0' in result.stdout and '"pending_count": 3' in result.stdout


def test_duckdb_status_on_a_missing_warehouse_exits_3(tmp_path: Path):
    directory = tmp_path / "analytics"
    directory.mkdir()
    for source in (FIXTURES / "duckdb_basic").iterdir():
        (directory / source.name).write_bytes(source.read_bytes())
    warehouse = tmp_path / "missing" / "warehouse.duckdb"
    config = tmp_path / "migrate.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "telemetry": {"exporter": "none"},
                "targets": {
                    "analytics": {
                        "directory": str(directory),
                        "url_env": "PLATFORM_TEST_UNUSED_URL",
                        "default_url": f"duckdb:///{warehouse}",
                    }
                },
            }
        )
    )
    for command in ("status", "validate"):
        result = platformctl("migrate", command, "--target", "analytics", "--config", str(config))
        assert result.returncode == EXIT_DATABASE_MISSING, (command, result.stdout, result.stderr)
        assert str(warehouse) in one_clear_line(result)
    assert not warehouse.exists() and not warehouse.parent.exists()


# -- §3: --steps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", ["0", "-1", "-3"])
@pytest.mark.parametrize("command", ["up", "down"])
def test_steps_below_one_are_refused(probe_config, make_runner, fresh_db_url, command, steps):
    runner = make_runner("basic", fresh_db_url)
    runner.up(steps=2)
    config = str(probe_config(fresh_db_url))
    for dry_run in ((), ("--dry-run",)):
        result = platformctl("migrate", command, "--steps", steps, *dry_run, "--config", config)
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert "--steps" in one_clear_line(result)
    assert [row.version for row in runner.applied()] == ["202601010000", "202601010100"]
    with pytest.raises(MigrationError, match="--steps"):
        runner.plan("down", steps=int(steps))


@settings(
    max_examples=6,  # each example: a database, a CLI process (~2 s) and a down
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(applied=st.integers(min_value=0, max_value=3), steps=st.integers(min_value=1, max_value=4))
def test_down_dry_run_plans_exactly_what_down_does(make_db_url, make_runner, applied, steps):
    url = make_db_url()
    runner = make_runner("basic", url)
    if applied:
        runner.up(steps=applied)
    dry = platformctl(
        "migrate", "down", "--steps", str(steps), "--dry-run", "--config", str(runner.config.source)
    )
    assert dry.returncode == 0, dry.stderr
    planned = runner.plan("down", steps=steps)
    assert dry.stdout == runner.render_plan(planned)
    done = runner.down(steps=steps)
    assert [(s.version, s.direction) for s in planned] == [
        (s.version, s.direction) for s in done.steps
    ]
    assert all("history row deleted" in block for block in dry.stdout.split("\n\n") if block)


# -- §6: a transactional file with its own transaction control is refused before it runs --------


@pytest.mark.parametrize(
    "control", ["COMMIT", "commit work", "ROLLBACK", "BEGIN", "START TRANSACTION", "END"]
)
def test_transaction_control_in_a_transactional_file_is_refused_before_running(
    write_migrate_config, fresh_db_url, tmp_path, control
):
    config = write_migrate_config("basic", fresh_db_url)
    directory = tmp_path / "migrations" / "basic"
    (directory / "202601010300_split_in_two.up.sql").write_text(
        "CREATE TABLE first_half (id bigint PRIMARY KEY);\n"
        f"{control};\n"
        "CREATE TABLE second_half (id bigint PRIMARY KEY);\n"
    )
    (directory / "202601010300_split_in_two.down.sql").write_text(
        "DROP TABLE IF EXISTS second_half;\nDROP TABLE IF EXISTS first_half;\n"
    )
    runner = Runner("operational", config=load_config(config), actor="test")
    with pytest.raises(TransactionControlInFile, match=r"202601010300_split_in_two.up.sql:2"):
        runner.plan()
    with pytest.raises(TransactionControlInFile, match=r"202601010300_split_in_two.up.sql:2"):
        runner.up()
    # refused before anything ran: not even the earlier, innocent migrations
    assert rows(fresh_db_url, "SELECT to_regclass('first_half'), to_regclass('accounts')") == [
        (None, None)
    ]
    result = platformctl("migrate", "up", "--config", str(config))
    assert result.returncode == 1 and "split_in_two.up.sql:2" in one_clear_line(result)


def test_transaction_control_is_fine_in_a_no_transaction_file_and_in_function_bodies(
    write_migrate_config, fresh_db_url, tmp_path
):
    config = write_migrate_config("basic", fresh_db_url)
    directory = tmp_path / "migrations" / "basic"
    (directory / "202601010300_bodies.up.sql").write_text(
        "CREATE FUNCTION noop() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RETURN; END $$;\n"
        "DO $$ BEGIN PERFORM noop(); END $$;\n"
    )
    (directory / "202601010300_bodies.down.sql").write_text("DROP FUNCTION noop();\n")
    runner = Runner("operational", config=load_config(config), actor="test")
    assert len(runner.up().steps) == 4
