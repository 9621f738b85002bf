"""`landing_sensor`: request an `ingest_job` run for the files that appeared in the landing
folder (configs/ingest.yaml: landing_dir, min_file_age_seconds).

The ingest config is read on each tick (through the `ingest` resource), never when Dagster
imports the code location: a bad INGEST_CONFIG fails this sensor's ticks and the ingestion runs,
not every stage."""

import hashlib

import dagster as dg

from dagster_project.defs.ingestion.jobs import ingest_job
from dagster_project.defs.ingestion.resources import IngestResource
from dagster_project.lib.ingest.landing import pending_files, signature

# How often the folder is listed. 30 s: new files start loading within a minute without listing
# the folder constantly. A constant, not configs/ingest.yaml: Dagster fixes a sensor's interval
# when it loads the code location, and reading the file then took every stage down with it.
SENSOR_INTERVAL_SECONDS = 30


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ingests new files in the landing folder. A run key per set of files (name, "
    "size, mtime): a file is requested once; ingested files move out of the folder.",
)
def landing_sensor(context: dg.SensorEvaluationContext, ingest: IngestResource):
    files = pending_files(ingest.config())
    if not files:
        return dg.SkipReason("no new files in the landing folder")
    key = hashlib.sha256("\n".join(signature(f) for f in files).encode()).hexdigest()[:32]
    return dg.RunRequest(
        run_key=key,
        run_config={"ops": {"raw_usage_events": {"config": {"paths": [str(f) for f in files]}}}},
        tags={"ingest/files": str(len(files))},
    )
