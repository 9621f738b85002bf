"""`platformctl rollup --from T --to T`: load, rebuild, check and publish a range of UTC hours,
the stages the Dagster rollup jobs run (lib/rollup/pipeline.py), one line per stage."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from dagster_project.console import make_console

console = make_console(highlight=False, soft_wrap=True)

# One command, merged into the root app by cli._register_commands.
rollup_app = typer.Typer()


@rollup_app.command("rollup")
def rollup_command(
    start: Annotated[
        str,
        typer.Option(
            "--from", help="First hour, ISO 8601 (UTC when no offset), e.g. 2026-12-01T00:00Z."
        ),
    ],
    end: Annotated[str, typer.Option("--to", help="End of the range (exclusive), whole UTC hour.")],
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Default: $DATABASE_URL.", show_default=False),
    ] = None,
    warehouse_url: Annotated[
        str | None,
        typer.Option("--warehouse-url", help="Default: $WAREHOUSE_URL.", show_default=False),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object with every stage.")
    ] = False,
) -> None:
    """Re-roll a range: copy its hours to the warehouse, rebuild its hours and days with dbt,
    reconcile and validate them, publish them to the marts. Safe to repeat; a failed check
    publishes nothing and exits 1."""
    from dagster_project.cli_warehouse import pseudonym_key
    from dagster_project.cli_warehouse import warehouse_url as warehouse_default
    from dagster_project.lib.db.postgres import database_url as operational_default
    from dagster_project.lib.rollup.pipeline import CHUNK, rollup
    from dagster_project.lib.rollup.ranges import HourRange, parse_moment

    hours = HourRange(parse_moment(start), parse_moment(end))
    operational = operational_default(database_url)
    warehouse = warehouse_default(warehouse_url)
    key = pseudonym_key()
    chunks = -(-(hours.end - hours.start) // CHUNK)
    show_bar = chunks > 1 and not as_json and console.is_terminal
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        console=console, disable=not show_bar, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task(f"rollup {hours}", total=chunks * 4)

        def on_stage(stage) -> None:
            progress.advance(task)
            if not as_json:
                mark = "ok" if stage.passed else "FAILED"
                progress.console.print(
                    f"{stage.stage:<15} {mark:<6} {stage.seconds:>7.2f} s  {stage.summary}"
                )

        report = rollup(
            operational, warehouse, hours, pseudonym_key=key,
            dbt_target=os.environ.get("DBT_TARGET") or None, on_stage=on_stage,
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps({
            "range": [hours.start.isoformat(), hours.end.isoformat()],
            "build_id": report.build_id,
            "stages": [s.__dict__ for s in report.stages],
        }, default=str))  # fmt: skip
    else:
        console.print(f"rollup {hours}: published ({report.build_id})")
