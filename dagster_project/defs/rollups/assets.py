"""What analysts open on DuckDB: the published marts, copied to a file of their own."""

import dagster as dg

from dagster_project.defs.common.resources import Warehouse


@dg.asset(
    key=["marts", "analyst_snapshot"],
    deps=[dg.AssetKey(["marts", "usage_hourly"]), dg.AssetKey(["marts", "usage_daily"])],
    group_name="marts",
    kinds={"duckdb"},
    owners=["team:data-platform"],
    pool="warehouse",
    description="DuckDB only: the published marts copied into .data/analytics.duckdb (temp file "
    "renamed over it), which analysts open read-only while pipelines run. PostgreSQL analysts "
    "read the marts schema directly as platform_analyst: nothing to do.",
)
def analyst_snapshot(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    if warehouse.engine != "duckdb":
        return dg.MaterializeResult(
            metadata={"engine": warehouse.engine, "published": "marts schema"}
        )
    from dagster_project.lib.rollup.snapshot import publish_snapshot

    report = publish_snapshot(warehouse.duckdb_path)
    context.log.info(f"published {report.path} ({report.bytes} bytes) in {report.seconds} s")
    return dg.MaterializeResult(
        metadata={
            "path": str(report.path),
            "bytes": report.bytes,
            "duration_s": report.seconds,
            "rows": report.relations,
        }
    )
