"""`platformctl partitions ...`: thin commands over dagster_project.lib.partitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from dagster_project.console import make_console
from dagster_project.lib import partitions as lib
from dagster_project.lib.db.postgres import database_url as database_url_or_default

console = make_console(highlight=False, soft_wrap=True)

partitions_app = typer.Typer(
    help="Daily partitions of app.usage_events: status, create ahead, retire past retention.",
    no_args_is_help=True,
)

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="Operational database (default: $DATABASE_URL).", show_default=False
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="partitions.yaml to use (default: $PARTITIONS_CONFIG or configs/partitions.yaml).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _json(payload: Any) -> None:
    typer.echo(json.dumps(payload, default=str))


@partitions_app.command()
def status(database_url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Partitions and bounds, missing days, default partition rows. Exit 2 when unhealthy."""
    policy = lib.load_policy(path=config)
    with lib.connect(database_url_or_default(database_url)) as conn:
        report = lib.status(conn, policy=policy)
    if as_json:
        _json(report.as_dict())
    else:
        console.print(
            f"{report.table}: {len(report.partitions)} partitions, "
            f"{report.oldest_bound} .. {report.newest_bound} (today {report.today} UTC)"
        )
        first, *_, last = lib.needed_days(policy, report.today)
        missing = ", ".join(map(str, report.missing_days))
        console.print(
            f"  needed {first} .. {last}: "
            + (f"[red]missing {missing}[/]" if missing else "[green]all present[/]")
        )
        if report.default_partition:
            colour = "red" if report.default_rows else "yellow"
            console.print(
                f"  [{colour}]default partition {report.default_partition}: "
                f"{report.default_rows} row(s)[/]"
            )
        pending = [p.name for p in report.partitions if p.detach_pending]
        for label, names in (
            ("past retention (prune retires them)", report.expired),
            ("detach pending (prune finalizes them)", pending),
            ("detached, to archive then drop", report.detached),
            ("orphans (prune finishes them)", report.orphans),
        ):
            if names:
                console.print(f"  {label}: {', '.join(names)}")
    if not report.healthy:
        raise typer.Exit(2)


@partitions_app.command()
def ensure(database_url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Create the missing daily partitions from today - lookback_days to today + future_days."""
    policy = lib.load_policy(path=config)
    with lib.connect(database_url_or_default(database_url)) as conn:
        created = lib.ensure(conn, policy=policy)
    if as_json:
        _json({"table": policy.table, "created": created})
    elif created:
        console.print(f"[green]created {len(created)}:[/] {', '.join(created)}")
    else:
        console.print(f"[green]{policy.table}: every needed partition exists[/]")


@partitions_app.command()
def prune(
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be retired; change nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Detach (then drop or keep, per on_expiry) the partitions past retention_days."""
    policy = lib.load_policy(path=config)
    with lib.connect(database_url_or_default(database_url)) as conn:
        result = lib.prune(conn, dry_run=dry_run, policy=policy)
    if as_json:
        _json(result.as_dict())
        return
    prefix = "would retire" if dry_run else "retired"
    for r in result.retired:
        outcome = f"kept as {r.kept_as}" if r.kept_as else "dropped"
        bounds = escape(f"[{r.lower} .. {r.upper})")
        console.print(f"  {prefix} {r.partition} {bounds}: {outcome} ({r.detach})")
    console.print(
        f"[green]{result.table}: {len(result.retired)} partition(s) {prefix}[/] "
        f"(cutoff {result.cutoff:%Y-%m-%d} UTC, on_expiry={result.on_expiry})"
    )
