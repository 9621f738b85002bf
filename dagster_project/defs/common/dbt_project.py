"""The dbt project (dbt/) as dagster-dbt sees it, one DbtProject per dbt target.

Each target has its own --target-path, target_<target>, whose manifest `make setup` and CI
prepare (`dbt parse --target T --target-path target_T`): dagster-dbt 0.29 parses only under
`dagster dev`, so without it `dagster job execute` fails in a clean checkout.

The asset graph is built from one manifest, GRAPH_TARGET's: both targets parse the same models,
tests and sources, so the graph (asset keys, checks, dependencies) is the same; the run itself
uses the warehouse's target (resources.Warehouse.dbt_target_path, DbtCliResource --target). That
keeps the environment out of import time. `dbt_project` is built on first use, so importing this
module works before dbt/ exists.
"""

from __future__ import annotations

import functools
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.lib.rollup.dbt import DBT_PROJECT_DIR

GRAPH_TARGET = "duckdb"


@functools.cache
def dbt_project_for(target: str) -> DbtProject:
    return DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target_path=Path(f"target_{target}"),
        target=target,
    )


def __getattr__(name: str) -> DbtProject:
    # PEP 562: `from dagster_project.defs.common.dbt_project import dbt_project` builds it then.
    if name == "dbt_project":
        return dbt_project_for(GRAPH_TARGET)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
