"""Which ingest config and database the ingestion assets, checks and sensor use."""

import dagster as dg

from dagster_project.lib.db.postgres import database_url
from dagster_project.lib.ingest.config import IngestConfig, load_config


class IngestResource(dg.ConfigurableResource):
    """Empty values fall back to $INGEST_CONFIG / configs/ingest.yaml and $DATABASE_URL, as
    `platformctl ingest` does. The loader connects with this URL and then SET ROLE to the
    config's role (platform_ingest), so row-level security applies whatever the login."""

    config_path: str = ""
    database_url: str = ""

    def config(self) -> IngestConfig:
        return load_config(self.config_path or None)

    def url(self) -> str:
        return database_url(self.database_url or None)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"ingest": IngestResource()})
