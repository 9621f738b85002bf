"""Health of each migration target: fails on dirty state, checksum drift or missing files, and
when the target cannot be read at all (missing database, refused login, no server, privileges)."""

import dagster as dg

from dagster_project.defs.migrations.assets import MIGRATION_TARGETS, schema_asset_key
from dagster_project.defs.migrations.resources import MigrationsResource
from dagster_project.lib.migrations.errors import TargetUnavailable


def _build_health_check(target: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=schema_asset_key(target),
        name="migrations_healthy",
        description="The target answers; no dirty migration, no applied file changed or missing.",
        blocking=True,
    )
    def _check(migrations: MigrationsResource) -> dg.AssetCheckResult:
        try:
            status = migrations.runner(target).status()
        except TargetUnavailable as exc:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"error": str(exc), "exit_code": exc.exit_code},
            )
        return dg.AssetCheckResult(
            passed=status.healthy,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "version": status.current_version or "none",
                "dirty": status.dirty,
                "problems": status.problems,
                "pending": len(status.pending),
                "invalid_indexes": status.invalid_indexes,
            },
        )

    return _check


health_checks = [_build_health_check(target) for target in MIGRATION_TARGETS]
