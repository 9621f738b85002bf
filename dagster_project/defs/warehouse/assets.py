"""The warehouse's landing zone: usage events of the run's UTC hours, and the dimensions, copied
from the operational database by lib/warehouse (whole hours replaced, from one snapshot)."""

import dagster as dg

from dagster_project.defs.common.resources import OperationalDatabase, Warehouse
from dagster_project.defs.ingestion.assets import RAW_USAGE_EVENTS
from dagster_project.defs.migrations.assets import schema_asset_key
from dagster_project.defs.rollups.partitions import HOURLY, SINGLE_RUN, run_range

LANDING_EVENTS = dg.AssetKey(["landing", "usage_events"])
DIMENSIONS = ("organizations", "users", "memberships", "api_keys", "model_registry",
              "model_prices", "budgets")  # fmt: skip


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            LANDING_EVENTS,
            deps=[RAW_USAGE_EVENTS, schema_asset_key("analytics")],
            description="app.usage_events of the partition's UTC hours, replaced whole hours "
            "at a time from one snapshot; confidential columns pseudonymised, secret ones never.",
            group_name="warehouse",
            kinds={"python", "postgres"},
            owners=["team:data-platform"],
        ),
        *(
            dg.AssetSpec(
                ["landing", name],
                deps=[schema_asset_key("operational"), schema_asset_key("analytics")],
                description=f"app.{name} as of the last load, replaced whole (small); columns as "
                "configs/data-classification.yml allows.",
                group_name="warehouse",
                kinds={"python", "postgres"},
                owners=["team:data-platform"],
            )
            for name in DIMENSIONS
        ),
    ],
    partitions_def=HOURLY,
    backfill_policy=SINGLE_RUN,
    pool="warehouse",
    name="warehouse_landing",
)
def warehouse_landing(
    context: dg.AssetExecutionContext, operational_db: OperationalDatabase, warehouse: Warehouse
):
    from dagster_project.lib.warehouse.load import load_hours

    hours = run_range(context)
    report = load_hours(
        operational_db.url,
        warehouse.url,
        [hours],
        pseudonym_key=warehouse.pseudonym_key,
        load_id=context.run.run_id,
    )
    context.log.info(f"loaded {report.events} events of {hours} in {report.seconds} s")
    yield dg.MaterializeResult(
        asset_key=LANDING_EVENTS,
        metadata={
            "events_loaded": report.events,
            "hours_replaced": hours.hours,
            "cost_usd": float(report.fingerprint_cost_usd),  # for the plot; exact in the marts
            "mismatched_hours": len(report.mismatched_hours),
            "rows_per_second": report.rows_per_second,
            "duration_s": report.seconds,
            "range": str(hours),
        },
    )
    for name in DIMENSIONS:
        yield dg.MaterializeResult(
            asset_key=["landing", name], metadata={"rows": report.dimensions.get(name, 0)}
        )
