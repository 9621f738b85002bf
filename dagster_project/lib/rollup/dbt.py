"""Run the dbt project (dbt/) against the warehouse a URL names.

The URL decides the target: `duckdb:///...` -> the `duckdb` profile target with DBT_DUCKDB_PATH,
`postgresql://...` -> the `postgres` target with DBT_PG_* taken apart from the URL. Each target
has its own --target-path (dbt/target_<target>): one shared path would make dbt re-parse the
whole project every time the target changes.

dbt runs as a subprocess of the venv's own `dbt` (found beside sys.executable), so a caller never
holds a DuckDB handle across it: DuckDB lets one process hold the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dagster_project.lib.db.urls import dbt_env
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.paths import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"


class DbtError(PlatformError):
    """dbt exited non-zero."""


def target_path(target: str) -> Path:
    return DBT_PROJECT_DIR / f"target_{target}"


def dbt_executable() -> str:
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def dbt_args(command: Sequence[str], target: str) -> list[str]:
    """`dbt <command> ... --project-dir --profiles-dir --target --target-path` for the target."""
    return [
        *command,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", target,
        "--target-path", str(target_path(target)),
    ]  # fmt: skip


@dataclass(frozen=True)
class DbtRun:
    args: list[str]
    seconds: float
    output: str


def run_dbt(
    command: Sequence[str],
    warehouse_url: str,
    *,
    dbt_vars: Mapping[str, object] | None = None,
    explicit_target: str | None = None,
) -> DbtRun:
    """Run one dbt command to completion; DbtError with dbt's own error lines when it fails."""
    env = {**os.environ, **dbt_env(warehouse_url, explicit_target)}
    target = env["DBT_TARGET"]
    args = dbt_args(command, target)
    if dbt_vars is not None:
        args += ["--vars", json.dumps(dict(dbt_vars))]
    started = time.monotonic()
    proc = subprocess.run(
        [dbt_executable(), *args], env=env, cwd=DBT_PROJECT_DIR, capture_output=True, text=True
    )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        errors = [line for line in output.splitlines() if "error" in line.lower()][-5:]
        raise DbtError(
            f"dbt {' '.join(command)} (target {target}) failed: "
            + (" | ".join(e.strip() for e in errors) or output.strip()[-500:])
        )
    return DbtRun(args=args, seconds=round(time.monotonic() - started, 3), output=output)
