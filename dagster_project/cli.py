"""`platformctl`: the operator's command line. Thin: every command calls into `lib/`."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from dagster_project.console import make_console
from dagster_project.lib.db.errors import translated
from dagster_project.lib.db.postgres import redact
from dagster_project.lib.devdb import cluster as devdb
from dagster_project.lib.errors import PlatformError

app = typer.Typer(
    help="Operate the data platform: migrations, local PostgreSQL, seeds, docs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = make_console()
err_console = make_console(stderr=True)

DEBUG_ENV = "PLATFORMCTL_DEBUG"
_debug = {"on": False}  # set by the global --debug option (the root callback)


def debug_requested() -> bool:
    """--debug was given, or PLATFORMCTL_DEBUG is set to anything but '', 0, false or no."""
    value = os.environ.get(DEBUG_ENV, "").strip().lower()
    return _debug["on"] or value not in ("", "0", "false", "no")


@app.callback()
def _root(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help=f"On an error, show the full traceback (also: {DEBUG_ENV}=1).",
        ),
    ] = False,
) -> None:
    """Operate the data platform: migrations, local PostgreSQL, seeds, docs."""
    _debug["on"] = debug


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn errors a person can act on (PlatformError, lib/errors.py) into one line on stderr
    and the error's exit code (docs/errors.md). The driver's connection and privilege errors
    become PlatformErrors in lib/db/errors.translated, the one place that knows them. Anything
    else is a bug and keeps its traceback; --debug shows the traceback of a PlatformError too."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with translated():
                return func(*args, **kwargs)
        except PlatformError as exc:
            if debug_requested():
                raise
            message = " ".join(str(exc).split()) or type(exc).__name__
            err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _register_commands() -> None:
    from dagster_project.cli_docs import docs_app
    from dagster_project.cli_generate import generate_app
    from dagster_project.cli_ingest import ingest_app
    from dagster_project.cli_migrate import migrate_app
    from dagster_project.cli_partitions import partitions_app
    from dagster_project.cli_prices import prices_app
    from dagster_project.cli_rollup import rollup_app
    from dagster_project.cli_seed import seed_app
    from dagster_project.cli_warehouse import warehouse_app

    sub_apps = (
        (migrate_app, "migrate"),
        (docs_app, "docs"),
        (partitions_app, "partitions"),
        (warehouse_app, "warehouse"),
        (prices_app, "prices"),
    )
    for sub_app, name in sub_apps:
        for command in sub_app.registered_commands:
            command.callback = user_errors(command.callback)
        app.add_typer(sub_app, name=name)
    # A single-command app joins the root: `platformctl seed`, not `platformctl seed seed`.
    single = (seed_app, generate_app, ingest_app, rollup_app)
    for command in (c for sub_app in single for c in sub_app.registered_commands):
        command.callback = user_errors(command.callback)
        app.registered_commands.append(command)


_register_commands()


# === BEGIN `platformctl dev postgres` (lib/devdb/cluster.py) ======================================

dev_app = typer.Typer(help="Developer conveniences for a bare machine.", no_args_is_help=True)
postgres_app = typer.Typer(
    help="A throwaway PostgreSQL under .data/postgres: trust auth, 127.0.0.1, no durability.",
    no_args_is_help=True,
)
dev_app.add_typer(postgres_app, name="postgres")
app.add_typer(dev_app, name="dev")


def _print_cluster(status: devdb.ClusterStatus) -> None:
    say = functools.partial(console.print, highlight=False, soft_wrap=True)
    if status.running:
        state = f"[green]running[/] (pid {status.pid}) on {devdb.HOST}:{status.port}"
    elif status.initialized:
        state = "[yellow]stopped[/]"
    else:
        state = "[yellow]not created yet[/] (`platformctl dev postgres up` creates it)"
    say(f"dev postgres: {state}" + (f" ({status.note})" if status.note else ""))
    say(f"  data dir: {status.data_dir}")
    say(f"  log:      {status.log_file}")
    if status.database_url:
        say(f"  its URL:  {status.database_url}")
    answers = "[green]answers[/]" if status.configured_url_answers else "[red]does not answer[/]"
    say(f"configured DATABASE_URL {redact(status.configured_url)}: {answers}")


@postgres_app.command("up")
@user_errors
def dev_postgres_up(
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="Default: 5432 if free, else 5433 up.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the `export DATABASE_URL=` line.")
    ] = False,
) -> None:
    """Create (first time) and start the cluster; idempotent. Prints the DATABASE_URL to export."""
    status = devdb.up(port=port)
    if not quiet:
        _print_cluster(status)
        console.print("To use it:", highlight=False)
    typer.echo(f"export DATABASE_URL={status.database_url}")


@postgres_app.command("down")
@user_errors
def dev_postgres_down() -> None:
    """Stop the cluster (fast shutdown). Its data stays under .data/postgres."""
    _print_cluster(devdb.down())


@postgres_app.command("status")
@user_errors
def dev_postgres_status() -> None:
    """Running or stopped, port, data dir, and whether the configured DATABASE_URL answers."""
    _print_cluster(devdb.status())


# === END `platformctl dev postgres` ===============================================================


def main() -> None:
    app(prog_name="platformctl")


if __name__ == "__main__":
    sys.exit(main())
