"""One clear error everywhere (issue 9 §3): the real `platformctl`, against real PostgreSQL, for
each command that touches the database x each way an operator gets the setup wrong. Every case
is exactly one line on stderr and the error's exit code (docs/errors.md); --debug and
PLATFORMCTL_DEBUG=1 bring the traceback back."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from ingest_helpers import event, make_world, write_ndjson
from psycopg import sql
from warehouse_helpers import make_warehouse

from dagster_project.lib.db import postgres

PLATFORMCTL = str(Path(sys.executable).with_name("platformctl"))  # the installed entry point

# command -> argv builder (url, the ingest file, a config file for that command or None)
COMMANDS: dict[str, Callable[[str, Path, Path | None], list[str]]] = {
    "ingest": lambda url, f, cfg: (
        ["ingest", str(f), "--database-url", url] + (["--config", str(cfg)] if cfg else [])
    ),
    "partitions": lambda url, f, cfg: (
        ["partitions", "ensure", "--database-url", url] + (["--config", str(cfg)] if cfg else [])
    ),
    "ingest-prune": lambda url, f, cfg: ["ingest-prune", "--dry-run", "--database-url", url],
    "docs validate": lambda url, f, cfg: (
        ["docs", "validate", "--database-url", url] + (["--config", str(cfg)] if cfg else [])
    ),
    "seed": lambda url, f, cfg: ["seed", "--no-analytics", "--database-url", url],
    # The DuckDB warehouse reads the operational side over ADBC, not psycopg.
    "warehouse load": lambda url, f, cfg: [
        "warehouse",
        "load",
        "--from",
        "2026-12-01T00:00Z",
        "--to",
        "2026-12-01T01:00Z",
        "--database-url",
        url,
        "--warehouse-url",
        f"duckdb:///{f.parent / 'warehouse.duckdb'}",
    ],
}
# kind -> (exit code, a phrase the line must hold)
KINDS = {
    "missing database": (3, "does not exist"),
    "unknown role": (4, 'role "'),
    "not a PostgreSQL URL": (1, "is not a PostgreSQL URL"),
    "URL libpq cannot parse": (1, "invalid database URL"),
    "role without CONNECT": (6, "permission denied for database"),
}


def platformctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "PLATFORMCTL_DEBUG"}
    clean["WAREHOUSE_PSEUDONYM_KEY"] = "test-key"  # else a warning line about the dev key
    return subprocess.run(
        [PLATFORMCTL, *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=300,
    )


def assert_one_line(result: subprocess.CompletedProcess, code: int, phrase: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and phrase in lines[0], lines[0]
    assert result.returncode == code, (result.returncode, lines[0])
    assert "Traceback" not in result.stdout


@pytest.fixture(scope="module")
def world(operational_databases) -> Iterator[dict[str, str]]:
    """A migrated database for the module (the commands fail before changing anything), and a
    second one that a new login role may not connect to."""
    db, locked = operational_databases.create(), operational_databases.create()
    make_world(db)
    role = f"test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(locked, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(postgres.database_name(locked))
            )
        )
    try:
        yield {"db": db, "locked": locked, "role": role}
    finally:
        operational_databases.drop(db)
        operational_databases.drop(locked)
        with psycopg.connect(postgres.with_database(db, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _url(kind: str, world: dict[str, str], role_url) -> str:
    db = world["db"]
    return {
        "missing database": postgres.with_database(db, f"no_such_db_{uuid.uuid4().hex[:8]}"),
        "unknown role": role_url(db, f"no_such_role_{uuid.uuid4().hex[:8]}"),
        "not a PostgreSQL URL": "mysql://root@127.0.0.1:3306/platform",
        "URL libpq cannot parse": postgres.with_database(db, "x") + "?no_such_option=1",
        "role without CONNECT": role_url(world["locked"], world["role"]),
    }[kind]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_and_failure_is_one_line(command, kind, world, role_url, tmp_path):
    events = write_ndjson(tmp_path / "e.ndjson", [event()])
    if command == "warehouse load":
        make_warehouse("duckdb", tmp_path, None)  # at tmp_path/warehouse.duckdb
    result = platformctl(*COMMANDS[command](_url(kind, world, role_url), events, None))
    assert_one_line(result, *KINDS[kind])


@pytest.mark.parametrize(
    ("command", "phrase"),
    [
        ("ingest", 'permission denied to set role "platform_ingest"'),  # SET ROLE, after login
        ("partitions", "permission denied for function ensure_usage_partitions"),
    ],
)
def test_a_privilege_refused_mid_command_is_one_line(command, phrase, world, role_url, tmp_path):
    events = write_ndjson(tmp_path / "e.ndjson", [event()])
    url = role_url(world["db"], "platform_app")  # logs in, may not do this
    assert_one_line(platformctl(*COMMANDS[command](url, events, None)), 6, phrase)


@pytest.mark.parametrize("command", ["ingest", "partitions", "docs validate", "seed"])
def test_a_config_file_that_is_not_a_mapping_is_one_line(command, world, tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("- just\n- a list\n")
    events = write_ndjson(tmp_path / "e.ndjson", [event()])
    argv = COMMANDS[command](world["db"], events, None if command == "seed" else bad)
    result = platformctl(*argv, env={"MIGRATE_CONFIG": str(bad)} if command == "seed" else None)
    assert_one_line(result, 1, f"{bad}: expected a mapping of settings")


def test_no_server_is_one_line_with_its_exit_code(tmp_path):
    events = write_ndjson(tmp_path / "e.ndjson", [event()])
    url = "postgresql://postgres@127.0.0.1:1/platform"  # port 1: nothing listens
    assert_one_line(platformctl("ingest", str(events), "--database-url", url), 5, "cannot reach")


@pytest.mark.parametrize("how", ["--debug", "PLATFORMCTL_DEBUG=1"])
def test_debug_shows_the_traceback(how, world):
    url = postgres.with_database(world["db"], "no_such_db_debug")
    argv = ["partitions", "status", "--database-url", url]
    if how == "--debug":
        result = platformctl("--debug", *argv)
    else:
        result = platformctl(*argv, env={"PLATFORMCTL_DEBUG": "1"})
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "DatabaseMissing" in result.stderr
