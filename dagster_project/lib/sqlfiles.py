"""The one loader for SQL kept in `.sql` files beside the code that runs it.

    read_sql("dagster_project.lib.rollup", "touched_since.sql")  # <package>/sql/<name>
    read_sql("dagster_project.lib.queries", "org_usage.sql", folder="operational")

Files are read through importlib.resources (works from a wheel too) and cached: SQL files are
part of the code and do not change while a process runs.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def read_sql(package: str, name: str, *, folder: str = "sql") -> str:
    """The text of `<package>/<folder>/<name>`; FileNotFoundError when there is none (a bug)."""
    return resources.files(package).joinpath(folder, name).read_text(encoding="utf-8")
