"""`platformctl ingest PATH...`: load usage-event files through lib/ingest, one batch per file."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
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
err_console = make_console(stderr=True, highlight=False, soft_wrap=True)
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

    Each file is one batch (identity: the sha256 of its content and its format). Ingesting a
    loaded file again changes nothing and prints its recorded counts. Exit 1 if a file failed
    (dead-lettered, unreadable) or had every line quarantined; a summary line says which.
    """
    from dagster_project.lib.db.postgres import database_url as database_url_or_default
    from dagster_project.lib.ingest import ingest_file, load_config

    url = database_url_or_default(database_url)
    config = _with_options(load_config(config_path), shards=shards, batch_size=batch_size)
    _check_paths(paths)
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
            if path.stat().st_size >= PROGRESS_MIN_BYTES:
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
    problems = [r.problem for r in results if r.problem]
    out = err_console if as_json else console
    for problem in problems:
        out.print(f"[red]{escape(problem)}[/]")
    out.print(_summary_line(results, problems))
    if problems:
        raise typer.Exit(1)


def _with_options(config, *, shards: int | None, batch_size: int | None):
    """The config with the command line's overrides, each checked by the config's own rules."""
    from dagster_project.lib.ingest.config import IngestError, validate

    for option, name, value in (("--shards", "shards", shards),
                                ("--batch-size", "batch_size", batch_size)):  # fmt: skip
        if value is None:
            continue
        config = config.replace(**{name: value})
        problems = [p for p in validate(config) if p.startswith(f"{name} ")]
        if problems:
            raise IngestError(f"{option} {value}: {problems[0]}")
    return config


def _check_paths(paths: list[Path]) -> None:
    """Every path is a file of a known format, before any is ingested."""
    from dagster_project.lib.ingest.config import IngestError
    from dagster_project.lib.ingest.readers import FORMATS

    for path in paths:
        if not path.is_file():
            raise IngestError(f"{path}: no such file")
        if path.suffix.lower() not in FORMATS:
            raise IngestError(
                f"{path}: unknown format {path.suffix or '(no extension)'}; use .ndjson/.jsonl, "
                ".csv or .parquet"
            )


def _summary_line(results: list, problems: list[str]) -> str:
    loaded = sum(r.ok and not r.replayed and not r.problem for r in results)
    replayed = sum(r.ok and r.replayed and not r.problem for r in results)
    line = (f"{len(results)} file{'s' if len(results) != 1 else ''}: {loaded} loaded, "
            f"{replayed} already loaded, {len(problems)} failed")  # fmt: skip
    return f"[red]{line}[/]" if problems else f"[green]{line}[/]"


def _summary(results: list) -> None:
    table = Table(title="ingestion batches", title_justify="left")
    for column in ("file", "batch", "state", "submitted", "accepted", "duplicates",
                   "quarantined", "late", "seconds", "events/s"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("file", "state") else "right")
    for r in results:
        state = f"{r.state} (earlier)" if r.replayed and not r.ok else r.state
        state = "loaded (replay: nothing new)" if r.replayed and r.ok else state
        rate = "" if r.replayed or not r.seconds else f"{r.submitted / r.seconds:,.0f}"
        table.add_row(
            Path(r.source).name, str(r.batch_id), state, f"{r.submitted:,}", f"{r.accepted:,}",
            f"{r.duplicates:,}", f"{r.quarantined:,}", f"{r.late:,}", f"{r.seconds:.2f}", rate,
        )  # fmt: skip
    console.print(table)
    for r in results:
        if r.quarantined and not r.problem:
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
