"""The main job's own two steps (the rest of `platform_job` is the other stages' assets):

- `usage_event_files`: the usage-event files ingestion reads. In production producers deliver
  them; materializing this asset writes a realistic week of synthetic traffic for the seeded
  tenants (lib/generate: diurnal curve, late, duplicate and invalid events) to .data/demo/,
  never the landing folder, so the landing sensor has nothing of the demo's to move.
- `platform_rollups`: rolls the generated hours up with the partitioned rollup jobs.

Why a step runs the rollup jobs: an asset job holds one partitions definition at most (Dagster
refuses a selection of hourly and daily assets), and `platform_job` is unpartitioned. So this
step executes `hourly_rollup_job` over the week's hour range and then `daily_rollup_job` over
its day range, each one run on this instance (a partition range run, BackfillPolicy.single_run:
one dbt invocation per step), tagged with this run's id. The assets, their partitions and their
checks (reconciliation, Great Expectations, dbt tests) are then materialized and evaluated by
the rollup jobs themselves, exactly as the schedules do it, and the UI shows them so.
"""

import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from dagster_project.defs.common.resources import OperationalDatabase, Warehouse
from dagster_project.defs.ingestion.assets import RAW_USAGE_EVENTS, USAGE_EVENT_FILES
from dagster_project.defs.migrations.assets import schema_asset_key
from dagster_project.defs.rollups.jobs import daily_rollup_job, hourly_rollup_job
from dagster_project.defs.rollups.partitions import DAILY, HOURLY
from dagster_project.lib.paths import DATA_DIR
from dagster_project.lib.rollup.ranges import HOUR

# Where the demo's traffic goes: one file (no YYYYMMDD in the name), so the job's run config
# can name it for ingestion; its manifest and the summary are written beside it.
DEMO_DIR = DATA_DIR / "demo"
DEMO_FILE = DEMO_DIR / "usage-week.ndjson"
PLATFORM_ROLLUPS = dg.AssetKey(["platform_rollups"])
OWNERS = ["team:data-platform"]


class TrafficConfig(dg.Config):
    output: str = Field(
        default=str(DEMO_FILE),
        description="The file to write (.ndjson/.csv/.parquet); its manifest goes beside it.",
    )
    # 6 days of arrivals ending today 00:00 UTC, late events up to a day earlier: the events
    # span the 7 UTC days ingestion accepts (configs/ingest.yaml max_event_age_days: 7, the days
    # the partitions keep behind today). A late event that occurred more than 7 days before
    # this run is quarantined as too old, as in production.
    days: int = Field(default=6, description="UTC days of arrivals, ending today 00:00 UTC.")
    max_late_days: int = Field(default=1, description="How late a late event is at most.")
    # 400 events/hour: ~58k rows, ingested in seconds; the shape (diurnal curve, tenants'
    # sizes, model mix, late/duplicate/invalid shares) does not depend on the volume.
    events_per_hour: float = Field(default=400.0, description="Mean rows per hour.")
    seed: int = Field(default=42, description="Same seed and day: byte-identical file.")


@dg.asset(
    key=USAGE_EVENT_FILES,
    deps=[dg.AssetKey(["operational_seed"])],
    group_name="platform",
    kinds={"python", "file"},
    owners=OWNERS,
    description="Usage-event files for ingestion. In production producers deliver them; "
    "materializing this asset writes a week of synthetic traffic for the seeded tenants "
    "(lib/generate) to .data/demo/usage-week.ndjson (never the landing folder), with a "
    "manifest of what ingestion must report.",
)
def usage_event_files(context: dg.AssetExecutionContext, config: TrafficConfig):
    from dagster_project.lib.demo.summary import rollup_range
    from dagster_project.lib.generate import GenerateOptions, generate_usage, load_catalog, plan

    options = GenerateOptions(
        output=Path(config.output),
        days=config.days,
        max_late_days=config.max_late_days,
        events_per_hour=config.events_per_hour,
        seed=config.seed,
    )
    catalog = load_catalog()
    manifest_path = plan(options, catalog).manifest
    manifest = generate_usage(options, catalog)
    totals, hours = manifest["totals"], rollup_range(manifest)
    context.log.info(f"wrote {totals['rows']:,} rows to {config.output} ({hours})")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(Path(config.output).resolve())),
            "manifest": dg.MetadataValue.path(str(manifest_path.resolve())),
            "rows": totals["rows"],
            "valid": totals["valid"],
            "late": totals["late"],
            "duplicates": totals["duplicates"],
            "invalid": totals["invalid"],
            "window": f"{manifest['window']['start']} .. {manifest['window']['end']}",
            "rollup_range": str(hours),
        }
    )


def _range_tags(partitions: dg.TimeWindowPartitionsDefinition, first, last) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": partitions.get_partition_key_for_timestamp(
            first.timestamp()
        ),
        "dagster/asset_partition_range_end": partitions.get_partition_key_for_timestamp(
            last.timestamp()
        ),
    }


def _metadata(context: dg.AssetExecutionContext, key: dg.AssetKey) -> dict:
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        raise dg.Failure(f"{key.to_user_string()} has never been materialized on this instance")
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@dg.asset(
    key=PLATFORM_ROLLUPS,
    deps=[RAW_USAGE_EVENTS, USAGE_EVENT_FILES, schema_asset_key("analytics")],
    group_name="platform",
    kinds={"dagster", "dbt"},
    owners=OWNERS,
    pool="warehouse",
    description="The generated week rolled up: runs hourly_rollup_job over its hours, then "
    "daily_rollup_job over its days (one partition-range run each, on this instance), whose "
    "blocking reconciliation and Great Expectations checks gate every publication. Metadata: "
    "the runs, rows and checks, and the summary `make demo` prints (also in "
    ".data/demo/summary.txt).",
)
def platform_rollups(
    context: dg.AssetExecutionContext, operational_db: OperationalDatabase, warehouse: Warehouse
) -> dg.MaterializeResult:
    from dagster_project.lib.demo.summary import (
        Summary,
        example_query,
        quarantine_reasons,
        render,
        rollup_range,
    )
    from dagster_project.lib.quality.expectations import DEFAULT_DATA_DOCS_DIR
    from dagster_project.lib.rollup.metrics import range_totals
    from dagster_project.lib.rollup.snapshot import snapshot_path_for

    files = _metadata(context, USAGE_EVENT_FILES)
    manifest_path = Path(str(files["manifest"]))
    manifest = json.loads(manifest_path.read_text())
    hours = rollup_range(manifest)
    days = hours.days()
    runs: dict[str, str] = {}
    evaluations = []
    for job, tags in (
        (hourly_rollup_job, _range_tags(HOURLY, hours.start, hours.end - HOUR)),
        (daily_rollup_job, _range_tags(DAILY, days.start, days.end - HOUR)),
    ):
        context.log.info(f"{job.name}: {tags}")
        result = context.repository_def.get_job(job.name).execute_in_process(
            instance=context.instance,
            tags={**tags, "platform/parent_run_id": context.run.run_id},
        )  # raises when a step or a blocking check fails: nothing further is published
        runs[job.name] = result.run_id
        evaluations += result.get_asset_check_evaluations()

    ingest = _metadata(context, RAW_USAGE_EVENTS)
    batches = ingest.get("batches") or []
    engine = warehouse.engine
    docs_index = DEFAULT_DATA_DOCS_DIR / "index.html"
    summary = Summary(
        hours=hours,
        ingest={k: int(ingest[k]) for k in ("submitted", "accepted", "duplicates", "quarantined")},
        expected=manifest["expected_ingest"],
        replayed=bool(batches) and all(b.get("replayed") for b in batches),
        quarantine_reasons=quarantine_reasons(
            operational_db.url, [int(b["batch_id"]) for b in batches]
        ),
        hourly_rows=range_totals(warehouse.url, "marts.usage_hourly", hours).rows,
        daily_rows=range_totals(warehouse.url, "marts.usage_daily", hours).rows,
        checks_passed=sum(e.passed for e in evaluations),
        checks_total=len(evaluations),
        warehouse=str(warehouse.duckdb_path)
        if engine == "duckdb"
        else "PostgreSQL (WAREHOUSE_URL), schema marts",
        snapshot=str(snapshot_path_for(warehouse.duckdb_path)) if engine == "duckdb" else None,
        data_docs=str(docs_index) if docs_index.exists() else None,
        traffic_file=str(files["path"]),
        runs=runs,
    )
    text = render(summary, example_query(warehouse.url, hours))
    summary_path = manifest_path.parent / "summary.txt"
    summary_path.write_text(text)
    context.log.info(text)
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(f"```\n{text}```"),
            "summary_path": dg.MetadataValue.path(str(summary_path)),
            "hours": hours.hours,
            "hourly_rows": summary.hourly_rows,
            "daily_rows": summary.daily_rows,
            "checks_passed": summary.checks_passed,
            "checks_total": summary.checks_total,
            "matches_manifest": summary.matches_manifest,
            **{f"{name}_run_id": run_id for name, run_id in runs.items()},
        }
    )
