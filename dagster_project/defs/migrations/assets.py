"""One asset per migration target: materializing it applies that target's pending migrations."""

import dagster as dg

from dagster_project.defs.migrations.resources import MigrationsResource

MIGRATION_TARGETS = {
    "operational": "PostgreSQL operational schema (organizations, keys, usage events, ...).",
    "analytics": "Analytics warehouse schema (DuckDB by default, PostgreSQL when configured).",
}


def schema_asset_key(target: str) -> dg.AssetKey:
    return dg.AssetKey([f"{target}_schema"])


def _build_schema_asset(target: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=schema_asset_key(target),
        group_name="migrations",
        kinds={"postgres"} if target == "operational" else {"duckdb"},
        description=f"{description} Materializing applies pending migrations under "
        f"migrations/{target}/ with the platform's runner (lock, checksums, dirty state).",
    )
    def _schema(
        context: dg.AssetExecutionContext, migrations: MigrationsResource
    ) -> dg.MaterializeResult:
        runner = migrations.runner(target, run_id=context.run.run_id)
        result = runner.up()
        status = runner.status()
        for step in result.steps:
            context.log.info(f"applied {step.version}_{step.slug} in {step.duration_ms} ms")
        return dg.MaterializeResult(
            metadata={
                "version": status.current_version or "none",
                "applied": [f"{s.version}_{s.slug}" for s in result.steps],
                "applied_count": len(result.steps),
                "durations_ms": {f"{s.version}_{s.slug}": s.duration_ms for s in result.steps},
                "total_duration_ms": sum(s.duration_ms for s in result.steps),
                "pending_after": len(status.pending),
                "database": status.database,
            }
        )

    return _schema


schema_assets = [_build_schema_asset(target, text) for target, text in MIGRATION_TARGETS.items()]
