"""`raw_usage_events`: materializing it ingests landing files into app.usage_events."""

import traceback
from pathlib import Path

import dagster as dg

from dagster_project.defs.common.resources import OperationalDatabase
from dagster_project.defs.ingestion.resources import IngestResource
from dagster_project.defs.migrations.assets import schema_asset_key
from dagster_project.lib.ingest import ingest_file
from dagster_project.lib.ingest.landing import archive, pending_files
from dagster_project.lib.ingest.pipeline import is_transient

RAW_USAGE_EVENTS = dg.AssetKey(["raw_usage_events"])
# The files producers deliver (defs/platform: materializing it writes the demo's traffic).
USAGE_EVENT_FILES = dg.AssetKey(["usage_event_files"])
QUARANTINE_CHECK = "quarantine_ratio_below_threshold"
FILES_CHECK = "every_file_loaded"
COUNTS = ("submitted", "accepted", "duplicates", "quarantined", "late")


class IngestRunConfig(dg.Config):
    # Files to ingest (the sensor passes the new ones); empty: every pending landing file.
    paths: list[str] = []


@dg.asset(
    key=RAW_USAGE_EVENTS,
    group_name="ingestion",
    kinds={"postgres"},
    deps=[schema_asset_key("operational"), USAGE_EVENT_FILES],
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=RAW_USAGE_EVENTS,
            description="This run quarantined at most quarantine_ratio_threshold "
            "(configs/ingest.yaml) of the events it was given, and no non-empty file had all "
            "of its lines quarantined.",
        ),
        dg.AssetCheckSpec(
            FILES_CHECK,
            asset=RAW_USAGE_EVENTS,
            blocking=True,  # a failed file fails the step (after every other file is done)
            description="Every file of the run was loaded: none dead-lettered, failed or "
            "wholly quarantined (those moved to the dead-letter folder with their reason).",
        ),
    ],
    description="Usage events in app.usage_events, loaded from the landing folder (or the run "
    "config's paths) by lib/ingest: validated, deduplicated, costed; invalid events go to "
    "ingest.quarantine. Metadata: this run's accepted/duplicate/quarantined counts.",
)
def raw_usage_events(
    context: dg.AssetExecutionContext, config: IngestRunConfig, ingest: IngestResource
) -> dg.MaterializeResult:
    settings = ingest.config()
    landing = settings.landing_dir.resolve()
    files = [Path(p) for p in config.paths] or pending_files(settings)
    totals = dict.fromkeys(COUNTS, 0)
    batches, problems, wholly_quarantined = [], [], []
    for path in files:
        try:
            result = ingest_file(path, database_url=ingest.url(), config=settings)
        except Exception as exc:
            if is_transient(exc):
                raise  # the database is away: the files stay in the landing folder for the retry
            # Not the database: this file (a bug, or a path that is gone). Its traceback, then
            # the next file.
            context.log.error(f"{path.name}:\n{traceback.format_exc()}")
            problem = f"{path.name}: {type(exc).__name__}: {' '.join(str(exc).split())}"
            problems.append(problem)
            batches.append({"file": path.name, "problem": problem})
            if path.exists() and path.resolve().parent == landing:
                archive(path, settings, problem)
            continue
        context.log.info(
            f"{path.name}: batch {result.batch_id} {result.state}"
            f"{' (replay)' if result.replayed else ''}: {result.submitted} submitted, "
            f"{result.accepted} accepted, {result.duplicates} duplicates, "
            f"{result.quarantined} quarantined in {result.seconds} s"
        )
        for name in totals:
            totals[name] += getattr(result, name)
        if result.problem:
            context.log.error(result.problem)
            problems.append(result.problem)
        if result.wholly_quarantined:
            wholly_quarantined.append(path.name)
        if path.resolve().parent == landing:
            archive(path, settings, result.problem)
        batches.append({"file": path.name, **result.as_dict()})
    ratio = totals["quarantined"] / totals["submitted"] if totals["submitted"] else 0.0
    threshold = settings.quarantine_ratio_threshold
    return dg.MaterializeResult(
        metadata={
            **totals,
            "files": len(files),
            "failed_files": len(problems),
            "quarantine_ratio": ratio,
            "batches": batches,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=QUARANTINE_CHECK,
                passed=ratio <= threshold and not wholly_quarantined,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "quarantine_ratio": ratio,
                    "threshold": threshold,
                    **totals,
                    "wholly_quarantined_files": wholly_quarantined,
                },  # fmt: skip
            ),
            dg.AssetCheckResult(
                check_name=FILES_CHECK,
                passed=not problems,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "files": len(files),
                    "failed_files": len(problems),
                    "problems": problems,
                },  # fmt: skip
            ),
        ],
    )


@dg.asset(
    key=dg.AssetKey(["ingest_bookkeeping_retention"]),
    group_name="ingestion",
    kinds={"postgres"},
    deps=[schema_asset_key("operational")],
    description="The ingestion bookkeeping (quarantine, touched event-hours, idempotency keys, "
    "finished batches) trimmed to the retention configs/data-classification.yml declares, by "
    "lib/ingest/retention.py (as `platformctl ingest-prune`). Metadata: rows deleted per table.",
)
def ingest_bookkeeping_retention(
    context: dg.AssetExecutionContext, operational_db: OperationalDatabase
) -> dg.MaterializeResult:
    from dagster_project.lib.ingest.retention import connect, prune

    with connect(operational_db.url) as conn:
        report = prune(conn)
    for t in report.tables:
        context.log.info(f"{t.table}: deleted {t.rows} row(s) older than {t.retention}")
    return dg.MaterializeResult(
        metadata={
            "rows_deleted": report.rows,
            **{f"{t.table.split('.')[1]}_deleted": t.rows for t in report.tables},
            "cutoffs": {t.table: t.cutoff.isoformat() for t in report.tables},
        }
    )
