"""Where partition maintenance connects and which policy it applies."""

import dagster as dg
import psycopg

from dagster_project.lib import partitions


class PartitionMaintenanceResource(dg.ConfigurableResource):
    """Empty values fall back to $PARTITIONS_CONFIG / configs/partitions.yaml and $DATABASE_URL,
    as the CLI does."""

    config_path: str = ""
    database_url: str = ""

    def policy(self, table: str = partitions.USAGE_EVENTS) -> partitions.Policy:
        return partitions.load_policy(table, self.config_path or None)

    def connect(self) -> psycopg.Connection:
        """Autocommit, as DETACH ... CONCURRENTLY needs."""
        return partitions.connect(self.database_url or None)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"partition_maintenance": PartitionMaintenanceResource()})
