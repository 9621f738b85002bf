"""`platformctl warehouse load|stale`: copy operational usage into the warehouse (lib/warehouse).

The pseudonym key is read here, from $WAREHOUSE_PSEUDONYM_KEY, never by lib/. Unset, the dev key
documented in configs/migrate.example.env is used, with a warning: pseudonyms made with it are
not secret, so set a real key (from your secret store) wherever the warehouse holds real data.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from dagster_project.console import make_console

console = make_console(highlight=False, soft_wrap=True)
err_console = make_console(stderr=True, highlight=False, soft_wrap=True)
KEY_ENV = "WAREHOUSE_PSEUDONYM_KEY"
# The value configs/migrate.example.env documents; for local warehouses only.
DEV_PSEUDONYM_KEY = "dev-only-pseudonym-key-not-secret"

warehouse_app = typer.Typer(
    help="Warehouse load: usage events by whole UTC hours, and the dimensions, into `landing`.",
    no_args_is_help=True,
)

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Default: $DATABASE_URL.", show_default=False)
]
WarehouseUrl = Annotated[
    str | None,
    typer.Option("--warehouse-url", help="Default: $WAREHOUSE_URL, else duckdb:///.data/warehouse.duckdb.",
                 show_default=False),
]  # fmt: skip


def pseudonym_key() -> bytes:
    key = os.environ.get(KEY_ENV)
    if key:
        return key.encode()
    err_console.print(
        f"warning: {KEY_ENV} is not set; using the dev key (pseudonyms are not secret)"
    )
    return DEV_PSEUDONYM_KEY.encode()


def warehouse_url(explicit: str | None) -> str:
    from dagster_project.lib.db.urls import DEFAULT_WAREHOUSE_URL

    return explicit or os.environ.get("WAREHOUSE_URL") or DEFAULT_WAREHOUSE_URL


@warehouse_app.command("load")
def load_command(
    start: Annotated[str, typer.Option("--from", help="First UTC hour, e.g. 2026-12-01T00:00Z.")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), a whole UTC hour.")],
    database_url: DatabaseUrl = None,
    warehouse: WarehouseUrl = None,
    load_id: Annotated[str | None, typer.Option(help="Default: platformctl-<uuid>.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """Replace the UTC hours [FROM, TO) and every dimension in the warehouse's landing schema with
    one consistent snapshot of the operational database. All or nothing; a rerun changes nothing."""
    from dagster_project.lib.db.postgres import database_url as operational_url
    from dagster_project.lib.rollup.ranges import HourRange, parse_moment
    from dagster_project.lib.warehouse import load_hours

    hours = HourRange(parse_moment(start), parse_moment(end))
    report = load_hours(
        operational_url(database_url), warehouse_url(warehouse), [hours],
        pseudonym_key=pseudonym_key(), load_id=load_id or f"platformctl-{uuid.uuid4()}",
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report.as_dict(), default=str))
        return
    console.print(
        f"loaded {hours} into {report.target}: {report.events:,} events in {report.hours:,} hours, "
        f"{sum(report.dimensions.values()):,} dimension rows, {report.seconds:.2f} s "
        f"({report.rows_per_second:,.0f} events/s)"
    )
    if report.mismatched_hours:
        console.print(
            f"[yellow]{len(report.mismatched_hours)} hours differ from app.usage_hourly[/]"
        )


@warehouse_app.command("stale")
def stale_command(
    since: Annotated[str, typer.Option("--since", help="From this UTC time, e.g. 2026-12-01.")],
    until: Annotated[str | None, typer.Option("--until", help="Default: now.")] = None,
    database_url: DatabaseUrl = None,
    warehouse: WarehouseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="The ranges as JSON.")] = False,
) -> None:
    """List the hour ranges whose operational usage differs from what the warehouse loaded
    (late events, never-loaded hours). Reload them with `platformctl warehouse load`."""
    from dagster_project.lib.db.postgres import database_url as operational_url
    from dagster_project.lib.rollup.ranges import collapse, iso, parse_moment
    from dagster_project.lib.warehouse import stale_hours

    start = parse_moment(since)
    stop = parse_moment(until) if until else datetime.now(UTC) + timedelta(hours=1)
    hours = stale_hours(operational_url(database_url), warehouse_url(warehouse), start, stop)
    ranges = collapse(hours)
    if as_json:
        typer.echo(json.dumps([[iso(r.start), iso(r.end)] for r in ranges]))
        return
    for r in ranges:
        console.print(f"{r}  {r.hours} hours")
    print(f"{len(hours)} stale hours in {len(ranges)} ranges", file=sys.stderr)
