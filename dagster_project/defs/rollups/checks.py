"""Blocking checks between the increments and the marts: the marts take over an increment only
when these pass, so a failed check leaves what analysts read on the last good state.

Reconciliation compares exact integers and decimals with the operational database; the Great
Expectations suites check shape: row counts, keys, grain, ratios, sums and freshness
(lib/rollup/checks.py, on lib/quality). Differences and failed expectations go into the
check's metadata.
"""

import dagster as dg

from dagster_project.defs.common.resources import OperationalDatabase, Warehouse
from dagster_project.defs.rollups.partitions import DAILY, HOURLY, run_range
from dagster_project.defs.warehouse.assets import LANDING_EVENTS
from dagster_project.lib.rollup import checks

HOURLY_INCREMENT = dg.AssetKey(["increment", "usage_hourly_increment"])
DAILY_INCREMENT = dg.AssetKey(["increment", "usage_daily_increment"])


def _result(outcome: checks.CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=outcome.summary,
        metadata=outcome.metadata,
    )


@dg.asset_check(
    asset=HOURLY_INCREMENT,
    blocking=True,
    partitions_def=HOURLY,
    description="For every rebuilt hour, organization and model: requests, tokens and cost equal "
    "a recomputation from app.usage_events and the operational rollup app.usage_hourly; landing "
    "holds as many events per hour as the operational database.",
)
def hourly_reconciles(
    context: dg.AssetCheckExecutionContext,
    operational_db: OperationalDatabase,
    warehouse: Warehouse,
) -> dg.AssetCheckResult:
    return _result(
        checks.hourly_reconciliation(operational_db.url, warehouse.url, run_range(context))
    )


@dg.asset_check(
    asset=DAILY_INCREMENT,
    blocking=True,
    partitions_def=DAILY,
    description="Every rebuilt day equals the sum of its published hours and the operational "
    "rollup app.usage_daily.",
)
def daily_reconciles(
    context: dg.AssetCheckExecutionContext,
    operational_db: OperationalDatabase,
    warehouse: Warehouse,
) -> dg.AssetCheckResult:
    return _result(
        checks.daily_reconciliation(operational_db.url, warehouse.url, run_range(context))
    )


def _suite_check(asset: dg.AssetKey, suite: str, partitions_def: dg.PartitionsDefinition):
    @dg.asset_check(
        asset=asset,
        name=f"great_expectations_{suite}",
        blocking=True,
        partitions_def=partitions_def,
        description=f"Great Expectations suite `{suite}` on the run's range: row count, not-null "
        "keys, unique grain, error ratio in [0, 1], token and cost sums, freshness. Data Docs in "
        ".data/data_docs/.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        operational_db: OperationalDatabase,
        warehouse: Warehouse,
    ) -> dg.AssetCheckResult:
        outcome = checks.suite(
            operational_db.url, warehouse.url, suite, run_range(context), context.run.run_id
        )
        return _result(outcome)

    return _check


suite_checks = [
    _suite_check(LANDING_EVENTS, "landing", HOURLY),
    _suite_check(HOURLY_INCREMENT, "hourly", HOURLY),
    _suite_check(DAILY_INCREMENT, "daily", DAILY),
]
