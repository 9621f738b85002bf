"""`platformctl dev postgres`: a real throwaway cluster in a temp directory, started and stopped."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from dagster_project.cli import app
from dagster_project.lib.devdb import cluster


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    # Not tmp_path: pytest's /tmp/pytest-of-<user> is 0700, and as root the cluster runs as
    # the `postgres` OS user, who must reach the directory.
    root = Path(tempfile.mkdtemp(prefix="platform-devdb-"))
    root.chmod(0o755)
    base = root / "pg"
    try:
        yield base
    finally:
        try:
            cluster.down(base)  # when the test failed half way
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_up_status_down_round_trip(cluster_dir: Path) -> None:
    before = cluster.status(cluster_dir)
    assert not before.initialized and not before.running

    started = cluster.up(base_dir=cluster_dir)
    assert started.running and started.initialized
    assert started.note == "created and started just now"
    assert started.port is not None and started.database_url is not None
    assert started.database_url == f"postgresql://postgres@127.0.0.1:{started.port}/platform"

    with psycopg.connect(started.database_url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT current_database(), current_setting('listen_addresses'),"
            " current_setting('unix_socket_directories'), pg_encoding_to_char(encoding)"
            " FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        assert row == ("platform", "127.0.0.1", str(cluster_dir / "run"), "UTF8")
        conn.execute("CREATE TABLE survives_restart (id int)")
        conn.commit()

    again = cluster.up(base_dir=cluster_dir)
    assert again.note == "it was already running"
    assert (again.pid, again.port) == (started.pid, started.port)
    with pytest.raises(cluster.DevClusterError, match="already runs on port"):
        cluster.up(port=started.port + 1, base_dir=cluster_dir)

    # The CLI reads the directory from $PLATFORM_DEVDB_DIR.
    env = {cluster.BASE_DIR_ENV: str(cluster_dir)}
    result = CliRunner().invoke(app, ["dev", "postgres", "status"], env=env)
    assert result.exit_code == 0, result.output
    assert f"running (pid {started.pid}) on 127.0.0.1:{started.port}" in result.output
    result = CliRunner().invoke(app, ["dev", "postgres", "up", "--quiet"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"export DATABASE_URL={started.database_url}"

    stopped = cluster.down(cluster_dir)
    assert not stopped.running and stopped.note == "stopped just now"
    assert cluster.down(cluster_dir).note == "it was not running"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(started.database_url, connect_timeout=2).close()

    # A restart keeps the port (an exported DATABASE_URL stays valid) and the data.
    restarted = cluster.up(base_dir=cluster_dir)
    assert restarted.note == "started just now" and restarted.port == started.port
    with psycopg.connect(restarted.database_url, connect_timeout=5) as conn:
        assert conn.execute("SELECT count(*) FROM survives_restart").fetchone() == (0,)
    result = CliRunner().invoke(app, ["dev", "postgres", "down"], env=env)
    assert result.exit_code == 0, result.output
    assert not cluster.status(cluster_dir).running


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert cluster.port_in_use(port)
    assert not cluster.port_in_use(port)


def test_missing_binaries_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "_candidate_bindirs", lambda: [])
    with pytest.raises(cluster.DevClusterError) as excinfo:
        cluster.find_bindir()
    assert "apt-get install postgresql" in str(excinfo.value)
    assert "brew install postgresql@15" in str(excinfo.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="root only")
def test_root_needs_a_directory_the_postgres_user_can_reach() -> None:
    private = Path(tempfile.mkdtemp(prefix="platform-devdb-"))  # 0700, root's
    try:
        with pytest.raises(cluster.DevClusterError, match="chmod o\\+x"):
            cluster.up(base_dir=private / "pg")
        assert not (private / "pg" / "data").exists()
    finally:
        shutil.rmtree(private, ignore_errors=True)
