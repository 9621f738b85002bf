"""`platformctl prices list|correct|reprice`: price versions and repricing (lib/pricing,
docs/pricing.md). Runs as the DATABASE_URL admin role, like `platformctl migrate`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from dagster_project.console import make_console

console = make_console(highlight=False, soft_wrap=True)

prices_app = typer.Typer(
    help="Price versions: list, correct, reprice stored events (docs/pricing.md).",
    no_args_is_help=True,
)

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="Default: $DATABASE_URL.", show_default=False)
]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object instead of text.")]


@prices_app.command("list")
def list_command(
    model: Annotated[
        str | None, typer.Option("--model", help="provider/model_name@version (default: all).")
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: AsJson = False,
) -> None:
    """Every price version: id, model, service tier, context tier, period, the rates offered."""
    from dagster_project.lib.db.postgres import connect
    from dagster_project.lib.db.postgres import database_url as default_url
    from dagster_project.lib.pricing.versions import list_versions, resolve_model

    with connect(default_url(database_url)) as conn:
        versions = list_versions(conn, resolve_model(conn, model) if model else None)
    if as_json:
        typer.echo(json.dumps({"versions": [v.as_dict() for v in versions]}))
        return
    for v in versions:
        period = f"[{v.effective_from:%Y-%m-%dT%H:%MZ}, " + (
            f"{v.effective_to:%Y-%m-%dT%H:%MZ})" if v.effective_to else "open)"
        )
        tier = v.service_tier + (f" >{v.above_input_tokens}" if v.above_input_tokens else "")
        state = f" superseded {v.superseded_at:%Y-%m-%dT%H:%MZ}" if v.superseded_at else ""
        state += f" corrects {v.corrects} ({v.correction_reason})" if v.corrects else ""
        rates = " ".join(
            f"{k.removesuffix('_usd_per_mtok').removesuffix('_usd_per_kcall')}={r.normalize():f}"
            for k, r in v.rates.items() if r is not None
        )  # fmt: skip
        console.print(f"{v.id:>6} {v.model} {tier} {period}{state}  {rates}", markup=False)
    if not as_json:
        console.print(f"{len(versions)} version(s)")


@prices_app.command("correct")
def correct_command(
    price_id: Annotated[int, typer.Option("--price-id", help="The version to correct.")],
    rate: Annotated[
        list[str],
        typer.Option("--rate", help="<rate_column>=<decimal> (or =null); repeatable."),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why the version was wrong.")],
    database_url: DatabaseUrl = None,
    as_json: AsJson = False,
) -> None:
    """Supersede a price version with a corrected copy (app.correct_model_price). Stored events
    keep their cost: `platformctl prices reprice` re-costs them, explicitly."""
    from dagster_project.lib.db.postgres import connect
    from dagster_project.lib.db.postgres import database_url as default_url
    from dagster_project.lib.pricing.versions import correct_price, parse_rates

    rates = parse_rates(rate)
    with connect(default_url(database_url)) as conn:
        old, new = correct_price(conn, price_id, rates, reason)
        conn.commit()
    end = new.effective_to.isoformat() if new.effective_to else "<now>"
    command = (f"platformctl prices reprice --model {new.model} "
               f"--from {new.effective_from.isoformat()} --to {end}")  # fmt: skip
    if as_json:
        typer.echo(json.dumps({"old": old.as_dict(), "new": new.as_dict(), "reprice": command}))
        return
    for column, value in rates.items():
        console.print(f"{column}: {old.rates[column]} -> {value}", markup=False)
    console.print(
        f"price version {old.id} superseded by {new.id}; stored events keep their cost until "
        f"repriced: {command} --dry-run",
        markup=False,
    )


@prices_app.command("reprice")
def reprice_command(
    model: Annotated[str, typer.Option("--model", help="provider/model_name@version.")],
    start: Annotated[
        str, typer.Option("--from", help="ISO 8601 (UTC when no offset), e.g. 2026-12-01T00:00Z.")
    ],
    end: Annotated[str, typer.Option("--to", help="End of the range (exclusive).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the same figures, change nothing.")
    ] = False,
    database_url: DatabaseUrl = None,
    as_json: AsJson = False,
) -> None:
    """Re-cost the model's events with occurred_at in [--from, --to) with the current price
    versions; recompute their rollups, queue their hours for re-roll, audit it. Idempotent."""
    from dagster_project.lib.db.postgres import database_url as default_url
    from dagster_project.lib.pricing.reprice import reprice
    from dagster_project.lib.rollup.ranges import parse_moment

    def on_stage(stage) -> None:
        if not as_json:
            console.print(
                f"{stage.stage:<14} {stage.seconds:>7.2f} s  {stage.summary}", markup=False
            )

    report = reprice(default_url(database_url), model, parse_moment(start), parse_moment(end),
                     dry_run=dry_run, on_stage=on_stage)  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report.as_dict(), default=str))
        return
    what = f"reprice {report.model} [{report.start.isoformat()}, {report.end.isoformat()})"
    if dry_run:
        verdict = f"dry run, nothing changed: would re-cost {report.events_changed} event(s)"
    elif report.changed:
        verdict = f"re-costed {report.events_changed} event(s), audit id {report.audit_id}"
    else:
        verdict = "nothing to change"
    console.print(
        f"{what}: {verdict}; cost before {report.cost_before} USD, after {report.cost_after} USD",
        markup=False,
    )
    if report.superseded_after:
        console.print(
            f"warning: {report.superseded_after} event(s) in range were stored meanwhile with a "
            "superseded price version (an ingestion that started before the correction); run "
            "the same reprice again",
            markup=False,
        )
