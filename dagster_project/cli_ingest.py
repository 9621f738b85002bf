"""`platformctl ingest PATH...`: load usage-event files through lib/ingest, one batch per file."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from dagster_project.console import make_console

console = make_console(highlight=False, soft_wrap=True)
# A bar is worth drawing from this size up (about 25k events of NDJSON).
PROGRESS_MIN_BYTES = 8 << 20

# One command, merged into the root app by cli._register_commands.
ingest_app = typer.Typer()


@ingest_app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[Path], typer.Argument(help="NDJSON (.ndjson/.jsonl), CSV or Parquet files.")
    ],
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Default: $DATABASE_URL.", show_default=False),
    ] = None,
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Default: $INGEST_CONFIG or configs/ingest.yaml.", show_default=False
        ),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(help="Parallel loaders (default: the config's).", show_default=False),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            help="Rows per chunk transaction (default: the config's).", show_default=False
        ),
    ] = None,
    retry_dead_lettered: Annotated[
        bool,
        typer.Option("--retry-dead-lettered", help="Retry files whose batch was dead-lettered."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per batch.")] = False,
) -> None:
    """Ingest usage-event files: validate, quarantine the invalid, store each event once.

    Each file is one batch (identity: the sha256 of its content). Ingesting a loaded file
    again changes nothing and prints its recorded counts. Exit 1 if a batch is dead-lettered.
    """
    from dagster_project.lib.db.postgres import database_url as database_url_or_default
    from dagster_project.lib.ingest import ingest_file, load_config

    url = database_url_or_default(database_url)
    config = load_config(config_path)
    config = config.replace(
        shards=shards or config.shards, batch_size=batch_size or config.batch_size
    )
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,
    ) as bar:
        for path in paths:
            progress = None
            if path.is_file() and path.stat().st_size >= PROGRESS_MIN_BYTES:
                task = bar.add_task(path.name, total=path.stat().st_size)

                def progress(done: int, total: int, task=task) -> None:
                    bar.update(task, completed=done, total=total)

            result = ingest_file(
                path, database_url=url, config=config, progress=progress,
                retry_dead_lettered=retry_dead_lettered,
            )  # fmt: skip
            results.append(result)
            if as_json:
                typer.echo(json.dumps(result.as_dict(), default=str))
    if not as_json:
        _summary(results)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def _summary(results: list) -> None:
    table = Table(title="ingestion batches", title_justify="left")
    for column in ("file", "batch", "state", "submitted", "accepted", "duplicates",
                   "quarantined", "late", "seconds", "events/s"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("file", "state") else "right")
    for r in results:
        state = "loaded (replay: nothing new)" if r.replayed else r.state
        rate = "" if r.replayed or not r.seconds else f"{r.submitted / r.seconds:,.0f}"
        table.add_row(
            Path(r.source).name, str(r.batch_id), state, f"{r.submitted:,}", f"{r.accepted:,}",
            f"{r.duplicates:,}", f"{r.quarantined:,}", f"{r.late:,}", f"{r.seconds:.2f}", rate,
        )  # fmt: skip
    console.print(table)
    for r in results:
        if r.error:
            console.print(f"[red]{Path(r.source).name}: dead-lettered after {r.attempts} "
                          f"attempts: {r.error}[/]")  # fmt: skip
        elif r.quarantined:
            console.print(f"{Path(r.source).name}: {r.quarantined:,} quarantined: "
                          f"SELECT reason, count(*) FROM ingest.quarantine WHERE batch_id = "
                          f"{r.batch_id} GROUP BY 1")  # fmt: skip


@ingest_app.command("ingest-prune")
def ingest_prune_command(
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Default: $DATABASE_URL.", show_default=False),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """Delete ingestion bookkeeping past the retention configs/data-classification.yml declares.

    Quarantined lines (90d), touched event-hours (30d), idempotency keys (400d, as long as the
    events they guard) and finished batches (400d), in transactions of 10k rows. Runs as the
    DATABASE_URL role (the ingestion role may not delete bookkeeping).
    """
    import psycopg

    from dagster_project.lib.db import postgres
    from dagster_project.lib.ingest.config import IngestError
    from dagster_project.lib.ingest.retention import connect, prune

    url = postgres.database_url(database_url)
    try:
        with connect(url) as conn:
            report = prune(conn, dry_run=dry_run)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise IngestError(
            f"{postgres.redact(url)} may not prune the ingest bookkeeping ({exc.diag.message_primary}): "
            "run it as the schema owner or a superuser (the ingestion role only inserts)"
        ) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    verb = "would delete" if dry_run else "deleted"
    for t in report.tables:
        console.print(f"  {t.table}: {verb} {t.rows:,} row(s) older than {t.retention} "
                      f"(before {t.cutoff.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")  # fmt: skip
    console.print(f"[green]{verb} {report.rows:,} row(s) in total[/]")
