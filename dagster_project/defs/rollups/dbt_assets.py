r"""dbt models (dbt/) as Dagster assets, split where a blocking check must stand between them:

    landing.* -> staging.stg_* -> increment.usage_hourly_increment --(checks)--> marts.usage_hourly
                              \-> increment.usage_daily*_increment --(checks)--> marts.usage_daily*
                                                                                 -> marts views

Each function is one dbt invocation for the run's partition range (vars rollup_ranges and
build_id), so a backfill of any range is one dbt run. The increments hold only the rebuilt
hours/days; the marts take them over only after the checks on them passed.
"""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dagster_project.defs.common.dbt_project import dbt_project
from dagster_project.defs.common.resources import Warehouse
from dagster_project.defs.rollups.partitions import DAILY, HOURLY, SINGLE_RUN, run_range
from dagster_project.lib.rollup import steps
from dagster_project.lib.rollup.metrics import RELATIONS, range_totals
from dagster_project.lib.rollup.ranges import dbt_vars
from dagster_project.lib.rollup.steps import DbtStep

OWNERS = ["team:data-platform"]
GROUPS = {"landing": "warehouse", "staging": "warehouse", "increment": "rollups", "marts": "marts"}
POOL = "warehouse"  # one writer at a time (dagster.yaml: pool limit 1)


class Translator(DagsterDbtTranslator):
    """Asset keys are [schema, name], as analysts see the relation; sources are the loader's
    landing tables (defs/warehouse)."""

    def get_asset_key(self, props: Mapping[str, Any]) -> dg.AssetKey:
        if props["resource_type"] == "source":
            return dg.AssetKey([props["schema"], props["name"]])
        return dg.AssetKey([props["config"].get("schema") or props["schema"], props["name"]])

    def get_group_name(self, props: Mapping[str, Any]) -> str | None:
        schema = props["config"].get("schema") if "config" in props else props["schema"]
        return GROUPS.get(schema or props["schema"], "warehouse")

    def get_owners(self, props: Mapping[str, Any]) -> list[str]:
        return OWNERS


TRANSLATOR = Translator()


def _build(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, command: str
) -> Iterator[Any]:
    hours = (
        run_range(context) if context.has_partition_key_range or context.has_partition_key else None
    )
    # cautious: a dbt test runs only when all its parents are built in this step (a test of
    # usage_daily_increment also reads stg_models, and must wait for the daily step).
    args = [command, "--vars", json.dumps(dbt_vars([hours] if hours else [], context.run.run_id)),
            "--indirect-selection", "cautious"]  # fmt: skip
    events, failure = [], None
    with warehouse.dbt_environment():
        # Held until dbt exits: the totals below open the warehouse, which DuckDB lets one
        # process hold at a time.
        try:
            for event in dbt.cli(
                args, context=context, target_path=warehouse.dbt_target_path()
            ).stream():
                events.append(event)
        except Exception as exc:  # dbt failed: report what it did build, then fail the step
            failure = exc
    outputs = {dg.AssetKey(name.split(".")).to_python_identifier(): name for name in RELATIONS}
    for event in events:
        relation = outputs.get(getattr(event, "output_name", ""))
        if hours and relation and failure is None:
            totals = range_totals(warehouse.url, relation, hours)
            event = event.with_metadata({**event.metadata, **totals.as_metadata(),
                                         "hours_rebuilt": hours.hours})  # fmt: skip
        yield event
    if failure is not None:
        raise failure


def _step_assets(step: DbtStep) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        select=step.select,
        exclude=step.exclude or None,
        partitions_def=HOURLY if step.grain == "hourly" else DAILY,
        backfill_policy=SINGLE_RUN,
        dagster_dbt_translator=TRANSLATOR,
        pool=POOL,
        name=step.name,
    )
    def _assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        yield from _build(context, dbt, warehouse, "build")

    return _assets


hourly_increment = _step_assets(steps.HOURLY_INCREMENT)
hourly_marts = _step_assets(steps.HOURLY_MARTS)
daily_increment = _step_assets(steps.DAILY_INCREMENT)
daily_marts = _step_assets(steps.DAILY_MARTS)
