"""Quiet, truthful output (issue 9 §7): no span dump unless asked, whole tables when piped,
`--json` a script can parse.

Commands run as subprocesses with stdin, stdout and stderr not terminals and no $COLUMNS: the
way a script, a pipe or a CI log sees them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_helpers import events, make_world, write_ndjson

PLATFORMCTL = [sys.executable, "-m", "dagster_project.cli"]
SPAN_MARK = '"type": "span"'


def _piped_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "COLUMNS"}
    return {**env, "MIGRATE_ACTOR": "output-test", **extra}


def platformctl(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PLATFORMCTL, *args], env=_piped_env(**env), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip


def test_migrate_prints_no_spans_unless_asked(operational_db_url: str) -> None:
    for args in (("migrate", "status"), ("migrate", "status", "--json"), ("migrate", "up")):
        quiet = platformctl(*args, "--database-url", operational_db_url)
        assert quiet.returncode == 0, quiet.stderr
        assert SPAN_MARK not in quiet.stdout + quiet.stderr, args

    # Asked for: one compact JSON line per span, on stderr only; stdout stays parseable.
    traced = platformctl(
        "migrate", "status", "--json", "--database-url", operational_db_url,
        OTEL_TRACES_EXPORTER="console",
    )  # fmt: skip
    assert traced.returncode == 0, traced.stderr
    assert json.loads(traced.stdout)["healthy"] is True
    spans = [json.loads(line) for line in traced.stderr.splitlines() if SPAN_MARK in line]
    assert [span["name"] for span in spans] == ["migrate.status"]
    assert spans[0]["attributes"]["target"] == "operational"


def test_an_unknown_exporter_is_one_clear_line(operational_db_url: str) -> None:
    result = platformctl(
        "migrate", "status", "--database-url", operational_db_url, OTEL_TRACES_EXPORTER="zipkin"
    )
    assert result.returncode == 1
    assert (
        result.stderr.count("\n") == 1 and "'zipkin' is not one of console, otlp" in result.stderr
    )


def test_piped_migrate_status_is_whole(fresh_db_url: str) -> None:
    # A long (but real) URL: libpq takes application_name up to 63 characters.
    url = f"{fresh_db_url}?application_name={'a' * 60}&connect_timeout=10"
    result = platformctl("migrate", "status", "--database-url", url)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert url in rows["database"]  # one line, not cut at 80 columns
    pending = rows["pending"].split("(", 1)[1].rstrip(")").split(", ")
    as_json = json.loads(platformctl("migrate", "status", "--json", "--database-url", url).stdout)
    assert pending == as_json["pending"] and as_json["pending_count"] == len(pending) > 10
    assert all(line == line.rstrip() for line in result.stdout.splitlines())


@pytest.fixture
def world_db(operational_db_url: str) -> str:
    make_world(operational_db_url)
    return operational_db_url


def test_piped_ingest_table_shows_every_count_whole(world_db: str, tmp_path: Path) -> None:
    name = "usage-" + "tenant-export-with-a-long-descriptive-name-" * 2 + "20261204.ndjson"
    path = write_ndjson(tmp_path / name, events(1234) + events(66))  # 66 resent: duplicates
    result = platformctl("ingest", str(path), "--database-url", world_db)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "…" not in result.stdout
    row = next(line for line in result.stdout.splitlines() if name in line)
    cells = [cell.strip() for cell in row.strip("│┃ ").split("│")]
    assert cells[0] == name and cells[3:7] == ["1,300", "1,234", "66", "0"], row

    again = platformctl("ingest", str(path), "--json", "--database-url", world_db)
    report = json.loads(again.stdout)
    assert (report["submitted"], report["accepted"], report["duplicates"]) == (1300, 1234, 66)


def test_seed_json_is_parseable(operational_db_url: str) -> None:
    result = platformctl("seed", "--json", "--no-analytics", "--database-url", operational_db_url)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["inserted_total"] > 0 and report["new_keys"]
    assert all(key["key"] and key["organization"] for key in report["new_keys"])
    again = json.loads(
        platformctl("seed", "--json", "--no-analytics", "--database-url", operational_db_url).stdout
    )
    assert again["inserted_total"] == 0 and again["new_keys"] == [] and again["existing_keys"]


def test_migrate_validate_json_is_parseable(operational_db_url: str) -> None:
    valid = platformctl("migrate", "validate", "--json", "--database-url", operational_db_url)
    assert valid.returncode == 0, valid.stderr
    assert json.loads(valid.stdout) == {"target": "operational", "valid": True, "problems": []}
    partitions = platformctl("partitions", "status", "--json", "--database-url", operational_db_url)
    assert partitions.returncode == 0, partitions.stderr
    assert isinstance(json.loads(partitions.stdout), dict)
