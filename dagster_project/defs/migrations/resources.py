"""Which migration config and database URLs the migration assets use."""

import dagster as dg

from dagster_project.lib.migrations.config import MigrateConfig, load_config
from dagster_project.lib.migrations.runner import Runner


class MigrationsResource(dg.ConfigurableResource):
    """Runs the shared migration engine. Empty values fall back to configs/migrate.yaml and the
    target's environment variable (DATABASE_URL / WAREHOUSE_URL), as the CLI does."""

    config_path: str = ""
    operational_url: str = ""
    analytics_url: str = ""
    actor: str = ""

    def load(self) -> MigrateConfig:
        return load_config(self.config_path or None)

    def runner(self, target: str, *, run_id: str | None = None) -> Runner:
        url = {"operational": self.operational_url, "analytics": self.analytics_url}.get(target, "")
        actor = self.actor or (f"dagster:{run_id}" if run_id else None)
        return Runner(target, config=self.load(), url=url or None, actor=actor)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"migrations": MigrationsResource()})
