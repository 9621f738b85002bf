"""Transaction control in a file the runner wraps in a transaction (issue 9 §6): one test,
`sqlsplit.transaction_control_lines`, used by both the runner (refuses) and lint (reports)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagster_project.lib.migrations.lint import lint_directory
from dagster_project.lib.migrations.sqlsplit import transaction_control_lines

CONTROL = ["BEGIN", "begin work", "COMMIT", "commit and chain", "END", "ROLLBACK", "abort",
           "START TRANSACTION", "start transaction isolation level serializable",
           "PREPARE TRANSACTION 'x'"]  # fmt: skip
HARMLESS = [
    "ROLLBACK TO SAVEPOINT s",
    "SAVEPOINT s",
    "PREPARE fetch_one AS SELECT 1",
    "SELECT 'commit; begin'",
    "DO $$ BEGIN PERFORM 1; END $$",
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; COMMIT; END $$",
    "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
    "CREATE TABLE t_commit (begin_at timestamptz PRIMARY KEY)",
    "-- COMMIT in a comment\nSELECT 1",
]


@pytest.mark.parametrize("statement", CONTROL)
def test_transaction_control_is_found_on_its_line(statement: str):
    text = f"CREATE TABLE t_a (id bigint PRIMARY KEY);\n\n{statement};\nSELECT 1;\n"
    assert [line for line, _ in transaction_control_lines(text)] == [3]


@given(st.lists(st.sampled_from(HARMLESS), min_size=1, max_size=6))
def test_harmless_statements_are_never_taken_for_transaction_control(statements: list[str]):
    assert transaction_control_lines(";\n".join(statements) + ";\n") == []


def test_lint_reports_it_without_squawk_and_only_in_transactional_files(tmp_path: Path):
    (tmp_path / "202601010000_split.up.sql").write_text(
        "CREATE TABLE t_a (id int PRIMARY KEY);\nCOMMIT;\n"
    )
    (tmp_path / "202601010000_split.down.sql").write_text("DROP TABLE t_a;\n")
    (tmp_path / "202601010100_own.up.sql").write_text(
        "-- migrate:no-transaction\nBEGIN;\nCREATE TABLE t_b (id int PRIMARY KEY);\nCOMMIT;\n"
    )
    (tmp_path / "202601010100_own.down.sql").write_text("DROP TABLE t_b;\n")
    found = [(v.path.name, v.line, v.rule) for v in lint_directory(tmp_path, use_squawk=False)]
    assert found == [("202601010000_split.up.sql", 2, "transaction-control")]
