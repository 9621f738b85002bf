"""Which migration config the migration assets use; the URLs come from the shared resources."""

import dagster as dg

from dagster_project.defs.common.resources import (
    OPERATIONAL_DB,
    WAREHOUSE,
    OperationalDatabase,
    Warehouse,
)
from dagster_project.lib.migrations import telemetry
from dagster_project.lib.migrations.config import MigrateConfig, load_config
from dagster_project.lib.migrations.errors import ConfigError
from dagster_project.lib.migrations.runner import Runner


class MigrationsResource(dg.ConfigurableResource):
    """Runs the shared migration engine on target `operational` (operational_db's URL) or
    `analytics` (the warehouse's URL). config_path empty: $MIGRATE_CONFIG or
    configs/migrate.yaml, as the CLI; actor empty: dagster:<run id>."""

    operational_db: dg.ResourceDependency[OperationalDatabase]
    warehouse: dg.ResourceDependency[Warehouse]
    config_path: str = ""
    actor: str = ""

    def load(self) -> MigrateConfig:
        return load_config(self.config_path or None)

    def url(self, target: str) -> str:
        urls = {"operational": self.operational_db.url, "analytics": self.warehouse.url}
        if target not in urls:
            raise ConfigError(f"no URL for migration target {target!r} (known: {', '.join(urls)})")
        return urls[target]

    def runner(self, target: str, *, run_id: str | None = None) -> Runner:
        actor = self.actor or (f"dagster:{run_id}" if run_id else None)
        config = self.load()
        telemetry.configure(config.telemetry_exporter, config.service_name)
        return Runner(target, config=config, url=self.url(target), actor=actor)


@dg.definitions
def resources() -> dg.Definitions:
    migrations = MigrationsResource(operational_db=OPERATIONAL_DB, warehouse=WAREHOUSE)
    return dg.Definitions(resources={"migrations": migrations})
