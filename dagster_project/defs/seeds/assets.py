"""`operational_seed`: the fixtures under seeds/ in the operational database (lib/seeds)."""

import dagster as dg

from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.migrations.assets import schema_asset_key
from dagster_project.lib.seeds import seed_database


class SeedConfig(dg.Config):
    analytics: bool = True  # also load seeds/analytics/ (usage events)


@dg.asset(
    key=dg.AssetKey(["operational_seed"]),
    deps=[schema_asset_key("operational")],
    group_name="seeds",
    kinds={"postgres"},
    description="Organizations, users, memberships, dev API keys, the model registry with price "
    "history, budgets and (optionally) analytics usage events from seeds/. Deterministic ids; "
    "inserts only what is missing, so rematerializing changes nothing. Needs the migrated schema.",
)
def operational_seed(
    context: dg.AssetExecutionContext, config: SeedConfig, operational_db: OperationalDatabase
) -> dg.MaterializeResult:
    # The migrate config ($MIGRATE_CONFIG or configs/migrate.yaml) says which migrations the
    # schema must have before seeding; the database is the one operational_schema migrates.
    report = seed_database(
        operational_db.url, analytics=config.analytics, actor=f"dagster:{context.run.run_id}"
    )
    if report.new_keys:
        # Run logs are stored and shown to everyone with access to Dagster: prefixes only. The
        # plaintexts die with this process; `platformctl seed` is the way to get usable dev keys.
        context.log.warning(
            f"created {len(report.new_keys)} dev API key(s): "
            + ", ".join(f"{k.organization}/{k.name} ({k.key.prefix}…)" for k in report.new_keys)
            + ". Plaintexts are not shown in run logs and cannot be recovered; seed with "
            "`platformctl seed` (prints them once) when you need to use them."
        )
    metadata = report.as_metadata()
    return dg.MaterializeResult(
        metadata={
            "inserted_total": metadata["inserted_total"],
            "counts": dg.MetadataValue.json(metadata["counts"]),
            "new_key_prefixes": metadata["new_key_prefixes"],
            "analytics": config.analytics,
        }
    )
