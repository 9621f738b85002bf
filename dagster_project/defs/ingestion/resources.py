"""Which ingest config the ingestion assets, checks and sensor use; the database comes from the
shared operational_db resource."""

import dagster as dg

from dagster_project.defs.common.resources import OPERATIONAL_DB, OperationalDatabase
from dagster_project.lib.ingest.config import IngestConfig, load_config


class IngestResource(dg.ConfigurableResource):
    """config_path empty: $INGEST_CONFIG or configs/ingest.yaml, as `platformctl ingest`. The
    loader connects with operational_db's URL and then SET ROLE to the config's role
    (platform_ingest), so row-level security applies whatever the login."""

    operational_db: dg.ResourceDependency[OperationalDatabase]
    config_path: str = ""

    def config(self) -> IngestConfig:
        return load_config(self.config_path or None)

    def url(self) -> str:
        return self.operational_db.url


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"ingest": IngestResource(operational_db=OPERATIONAL_DB)})
