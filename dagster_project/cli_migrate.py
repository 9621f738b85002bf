"""`platformctl migrate ...`: thin commands over dagster_project.lib.migrations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dagster_project.console import make_console
from dagster_project.lib.errors import InvalidInput
from dagster_project.lib.migrations import telemetry
from dagster_project.lib.migrations.config import MigrateConfig, load_config
from dagster_project.lib.migrations.runner import Runner, RunResult, Status

console = make_console()
err_console = make_console(stderr=True)

EXIT_CODES_HELP = (
    "Exit codes: 0 healthy; 1 any other error; 2 dirty or drifted; 3 database missing; "
    "4 login refused; 5 server unreachable; 6 privileges missing."
)

migrate_app = typer.Typer(
    help="Apply, roll back, inspect and check schema migrations. " + EXIT_CODES_HELP,
    no_args_is_help=True,
)

TargetOpt = Annotated[
    str, typer.Option("--target", "-t", help="Migration target: operational or analytics.")
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Overrides the target's URL env var (DATABASE_URL / WAREHOUSE_URL).",
        show_default=False,
    ),
]
ActorOpt = Annotated[
    str | None,
    typer.Option(
        "--actor", help="Who runs this (default: $MIGRATE_ACTOR or user@host).", show_default=False
    ),
]
ApproversOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--approved-by",
        help="Approver name; protected targets need two distinct ones. Repeat the option.",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="migrate.yaml to use (default: $MIGRATE_CONFIG or configs/migrate.yaml).",
        show_default=False,
    ),
]
OutOfOrderOpt = Annotated[
    bool,
    typer.Option(
        "--allow-out-of-order", help="Apply pending files older than the newest applied one."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _config(config: Path | None) -> MigrateConfig:
    """The migrate config; telemetry configured from it (the CLI is an entry point)."""
    cfg = load_config(config)
    telemetry.configure(cfg.telemetry_exporter, cfg.service_name)
    return cfg


def _runner(target: str, url: str | None, actor: str | None, config: Path | None) -> Runner:
    return Runner(target, config=_config(config), url=url, actor=actor)


def _print_run(result: RunResult, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.as_dict(), default=str))
        return
    verb = "applied" if result.direction == "up" else "rolled back"
    if not result.steps:
        console.print(
            f"[green]{result.target}: nothing to do[/] (version {result.current_version or 'none'})"
        )
        return
    for step in result.steps:
        console.print(f"  {verb} [bold]{step.version}_{step.slug}[/] in {step.duration_ms} ms")
        for warning in step.warnings:
            console.print(f"    [yellow]warning:[/] {warning}")
    console.print(
        f"[green]{result.target}: {len(result.steps)} {verb}[/], now at version "
        f"{result.current_version or 'none'}"
    )


@migrate_app.command()
def up(
    target: TargetOpt = "operational",
    database_url: UrlOpt = None,
    actor: ActorOpt = None,
    approved_by: ApproversOpt = None,
    config: ConfigOpt = None,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps", help="Apply at most N (1 or more) pending migrations.", show_default=False
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the SQL that would run; change nothing.")
    ] = False,
    allow_out_of_order: OutOfOrderOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply pending migrations, each in its own transaction unless its file opts out."""
    runner = _runner(target, database_url, actor, config)
    if dry_run:
        typer.echo(
            runner.render_plan(
                runner.plan("up", steps=steps, allow_out_of_order=allow_out_of_order)
            ),
            nl=False,
        )
        return
    _print_run(
        runner.up(
            steps=steps, allow_out_of_order=allow_out_of_order, approved_by=approved_by or []
        ),
        as_json,
    )


@migrate_app.command()
def down(
    target: TargetOpt = "operational",
    database_url: UrlOpt = None,
    actor: ActorOpt = None,
    approved_by: ApproversOpt = None,
    config: ConfigOpt = None,
    steps: Annotated[
        int, typer.Option("--steps", help="Roll back the newest N (1 or more) applied migrations.")
    ] = 1,
    all_: Annotated[bool, typer.Option("--all", help="Roll back every applied migration.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the SQL that would run; change nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Roll back applied migrations with their .down.sql files, newest first."""
    runner = _runner(target, database_url, actor, config)
    if all_:
        steps = max(len(runner.applied()), 1)
    if dry_run:
        typer.echo(runner.render_plan(runner.plan("down", steps=steps)), nl=False)
        return
    _print_run(runner.down(steps=steps, approved_by=approved_by or []), as_json)


@migrate_app.command()
def plan(
    target: TargetOpt = "operational",
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
    direction: Annotated[str, typer.Option("--direction", help="up or down.")] = "up",
    steps: Annotated[
        int | None, typer.Option("--steps", help="Limit to N migrations.", show_default=False)
    ] = None,
    allow_out_of_order: OutOfOrderOpt = False,
) -> None:
    """Print exactly the SQL `up` (or `down`) would run, in order. Changes nothing."""
    if direction not in ("up", "down"):
        raise InvalidInput(f"--direction must be up or down, not {direction!r}")
    runner = _runner(target, database_url, None, config)
    planned = runner.plan(direction, steps=steps, allow_out_of_order=allow_out_of_order)  # type: ignore[arg-type]
    if not planned:
        err_console.print(f"{target}: nothing to {direction}")
    typer.echo(runner.render_plan(planned), nl=False)


@migrate_app.command()
def status(
    target: TargetOpt = "operational",
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Current version, last migration time, pending count, dirty flag: a health probe.

    An empty target is only one whose database answers and has no history yet. Exit codes: 0
    healthy; 2 dirty or drifted; 3 database missing; 4 login refused (role or password); 5 server
    unreachable; 6 privileges missing (CONNECT, or reading platform_meta); 1 anything else."""
    report = _runner(target, database_url, None, config).status()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), default=str))
    else:
        _print_status(report)
    if not report.healthy:
        raise typer.Exit(2)


def _print_status(report: Status) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("target", report.target)
    table.add_row("database", report.database)
    table.add_row("current version", report.current_version or "none")
    table.add_row(
        "last migration",
        f"{report.last_migration_at:%Y-%m-%d %H:%M:%S %Z}" if report.last_migration_at else "never",
    )
    table.add_row("applied", str(report.applied))
    table.add_row(
        "pending",
        str(len(report.pending)) + (f" ({', '.join(report.pending)})" if report.pending else ""),
    )
    table.add_row(
        "dirty", "[red]yes: " + ", ".join(report.dirty) + "[/]" if report.dirty else "[green]no[/]"
    )
    console.print(table)
    for problem in report.problems:
        console.print(f"[red]problem:[/] {problem}")
    for index in report.invalid_indexes:
        console.print(
            f"[yellow]invalid index:[/] {index} (left by an interrupted CREATE INDEX CONCURRENTLY)"
        )


@migrate_app.command()
def validate(
    target: TargetOpt = "operational",
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
    allow_out_of_order: OutOfOrderOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Check files against the database: changed applied files, missing files, out-of-order files.

    Exit 1 when a file is invalid; 3-6 as `status` when the database cannot be read."""
    problems = _runner(target, database_url, None, config).validate(
        allow_out_of_order=allow_out_of_order
    )
    if as_json:
        typer.echo(json.dumps({"target": target, "valid": not problems, "problems": problems}))
        if problems:
            raise typer.Exit(1)
        return
    for problem in problems:
        err_console.print(f"[red]invalid:[/] {problem}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    console.print(f"[green]{target}: migrations valid[/]")


@migrate_app.command()
def lint(
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="Lint one target (default: all).", show_default=False),
    ] = None,
    config: ConfigOpt = None,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Migration directories to lint instead of the configured ones.", show_default=False
        ),
    ] = None,
    squawk: Annotated[
        bool,
        typer.Option(
            "--squawk/--no-squawk",
            help="Run squawk's PostgreSQL lock-safety rules on directories given as arguments.",
        ),
    ] = True,
) -> None:
    """File names, squawk lock-safety rules and our schema conventions. Names file, line and rule.

    squawk runs on PostgreSQL targets only: it knows PostgreSQL's locks, not DuckDB's."""
    from dagster_project.lib.migrations.lint import lint_directory

    cfg = load_config(config)
    if paths:
        jobs = [(directory, squawk) for directory in paths]
    else:
        names = [target] if target else sorted(cfg.targets)
        jobs = [
            (cfg.target(name).directory, cfg.target(name).url().startswith("postgres"))
            for name in names
        ]
    violations = [
        v
        for directory, use_squawk in jobs
        for v in lint_directory(directory, use_squawk=use_squawk)
    ]
    for violation in violations:
        typer.echo(str(violation))
    if violations:
        err_console.print(f"[red]{len(violations)} lint violation(s)[/]")
        raise typer.Exit(1)
    console.print(f"[green]lint clean:[/] {', '.join(str(directory) for directory, _ in jobs)}")


@migrate_app.command()
def repair(
    target: TargetOpt = "operational",
    database_url: UrlOpt = None,
    actor: ActorOpt = None,
    config: ConfigOpt = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version", help="The dirty version (default: every dirty one).", show_default=False
        ),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="rollback: run its down file and forget it; mark-applied: it did finish; forget: you cleaned up by hand.",
        ),
    ] = "rollback",
) -> None:
    """Clear dirty state after a person checked the database."""
    repaired = _runner(target, database_url, actor, config).repair(version=version, mode=mode)  # type: ignore[arg-type]
    if not repaired:
        console.print(f"[green]{target}: nothing is dirty[/]")
    for name in repaired:
        console.print(f"repaired {name} ({mode})")


@migrate_app.command()
def smoke(
    target: TargetOpt = "operational", database_url: UrlOpt = None, config: ConfigOpt = None
) -> None:
    """On a fresh scratch database: up → down → up per migration, then all down and all up; the
    catalog (tables, columns, types, constraints, indexes, policies) must match at every step."""
    from dagster_project.lib.migrations.cycle import smoke as run_smoke

    report = run_smoke(target, url=database_url, config=_config(config))
    for failure in report.failures:
        err_console.print(f"[red]smoke failure:[/] {failure}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
    console.print(f"[green]{target}: smoke cycle passed for {report.migrations} migrations[/]")


@migrate_app.command("measure-window")
def measure_window(
    target: TargetOpt = "operational",
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Time a full apply and a full rollback on a scratch database against the window targets."""
    from dagster_project.lib.migrations.cycle import measure_window as run_measure

    report = run_measure(target, url=database_url, config=_config(config))
    if as_json:
        typer.echo(json.dumps({**report.__dict__, "ok": report.ok}))
    else:
        console.print(f"{target}: {report.migrations} migrations")
        console.print(
            f"  apply    {report.apply_seconds:8.3f}s  (window {report.apply_window_seconds:g}s)"
        )
        console.print(
            f"  rollback {report.rollback_seconds:8.3f}s  (window {report.rollback_window_seconds:g}s)"
        )
    if not report.ok:
        err_console.print("[red]outside the maintenance window[/]")
        raise typer.Exit(1)
