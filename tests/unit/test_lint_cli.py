"""`platformctl migrate lint` exits non-zero and prints file:line: [rule] for each violation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dagster_project.cli", "migrate", "lint", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_violation_names_file_line_and_rule():
    result = lint(str(FIXTURES / "lint" / "primary-key"))
    assert result.returncode == 1
    assert "202601010100_create_audit_log.up.sql:11: [primary-key]" in result.stdout


def test_clean_set_passes_and_committed_migrations_pass():
    assert lint(str(FIXTURES / "lint" / "clean")).returncode == 0
    committed = lint()
    assert committed.returncode == 0, committed.stdout + committed.stderr


def test_duckdb_targets_skip_postgres_lock_rules():
    result = lint("--no-squawk", str(FIXTURES / "migrations" / "duckdb_basic"))
    assert result.returncode == 0, result.stdout
