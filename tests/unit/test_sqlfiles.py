"""One loader for `.sql` files (issue 9 §8): lib/sqlfiles.read_sql, nothing else in the package
opens package resources or reads a .sql file itself."""

from __future__ import annotations

import re

import pytest

from dagster_project.lib import paths
from dagster_project.lib.queries import OPERATIONAL, operational
from dagster_project.lib.sqlfiles import read_sql

PACKAGE = paths.PROJECT_ROOT / "dagster_project"
# Reading a package resource, or a path ending in .sql, by hand.
OWN_LOADER = re.compile(
    r"importlib\.resources|from importlib import resources|\.sql\"\)\.read_text"
)


def test_only_sqlfiles_reads_sql_files() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "sqlfiles.py" and OWN_LOADER.search(path.read_text())
    ]
    assert offenders == []


def test_read_sql_reads_sql_and_query_folders() -> None:
    assert "select" in read_sql("dagster_project.lib.docs", "relations.sql").lower()
    for name in OPERATIONAL:
        assert operational(name) == read_sql(
            "dagster_project.lib.queries", f"{name}.sql", folder="operational"
        )
    with pytest.raises(KeyError, match="no query operational/nope.sql"):
        operational("nope")
