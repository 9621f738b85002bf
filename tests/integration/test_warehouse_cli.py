"""`platformctl warehouse load|stale`: JSON report, stale ranges, one clear line on bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from warehouse_helpers import KEY, make_warehouse

from dagster_project.cli import app
from dagster_project.lib.seeds import seed_database

runner = CliRunner()


@pytest.fixture
def urls(operational_db_url, tmp_path, make_db_url, monkeypatch) -> tuple[str, str]:
    seed_database(operational_db_url)
    monkeypatch.setenv("WAREHOUSE_PSEUDONYM_KEY", KEY.decode())
    return operational_db_url, make_warehouse("duckdb", tmp_path, make_db_url)


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_load_then_stale_finds_nothing(urls):
    op, wh = urls
    common = ["--database-url", op, "--warehouse-url", wh]
    assert json.loads(_run("warehouse", "stale", "--since", "2026-01-01", "--until", "2027-01-01",
                           "--json", *common).stdout) != []  # fmt: skip
    loaded = _run(
        "warehouse", "load", "--from", "2026-01-01", "--to", "2027-01-01", "--json", *common
    )
    assert loaded.exit_code == 0, loaded.output
    report = json.loads(loaded.stdout)
    assert report["events"] == report["fingerprint_events"] == 42 and report["target"] == "duckdb"
    stale = _run(
        "warehouse", "stale", "--since", "2026-01-01", "--until", "2027-01-01", "--json", *common
    )
    assert json.loads(stale.stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday", "--to", "2026-12-01"], "is not an ISO 8601 date"),
        (["--from", "2026-12-01T00:30", "--to", "2026-12-02"], "not a whole UTC hour"),
        (["--from", "2026-12-02", "--to", "2026-12-01"], "empty range"),
        (
            ["--from", "2026-12-01", "--to", "2026-12-02", "--warehouse-url", "sqlite:///x"],
            "expected duckdb",
        ),
    ],
)
def test_bad_input_is_one_clear_line(urls, args, message):
    result = _run("warehouse", "load", "--database-url", urls[0], *args)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
