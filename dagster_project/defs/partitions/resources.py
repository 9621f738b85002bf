"""Which policy partition maintenance applies; it connects with the shared operational_db."""

import dagster as dg
import psycopg

from dagster_project.defs.common.resources import OPERATIONAL_DB, OperationalDatabase
from dagster_project.lib import partitions


class PartitionMaintenanceResource(dg.ConfigurableResource):
    """config_path empty: $PARTITIONS_CONFIG or configs/partitions.yaml, as the CLI."""

    operational_db: dg.ResourceDependency[OperationalDatabase]
    config_path: str = ""

    def policy(self, table: str = partitions.USAGE_EVENTS) -> partitions.Policy:
        return partitions.load_policy(table, self.config_path or None)

    def connect(self) -> psycopg.Connection:
        """Autocommit, as DETACH ... CONCURRENTLY needs."""
        return partitions.connect(self.operational_db.url)


@dg.definitions
def resources() -> dg.Definitions:
    maintenance = PartitionMaintenanceResource(operational_db=OPERATIONAL_DB)
    return dg.Definitions(resources={"partition_maintenance": maintenance})
