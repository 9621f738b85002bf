"""`platformctl seed`: load seeds/ into a migrated operational database (lib/seeds)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from dagster_project.console import make_console
from dagster_project.lib.seeds import SeedReport, seed_database

console = make_console()

# One command, merged into the root app by cli._register_commands: `platformctl seed [OPTIONS]`.
seed_app = typer.Typer()


@seed_app.command("seed")
def seed(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Operational database (default: $DATABASE_URL).",
            show_default=False,
        ),
    ] = None,
    analytics: Annotated[
        bool,
        typer.Option(
            "--analytics/--no-analytics", help="Also load seeds/analytics/ (usage events)."
        ),
    ] = True,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Counts and the new dev keys (plaintext, once) as JSON."),
    ] = False,
) -> None:
    """Load the fixtures under seeds/ into a migrated operational database.

    Inserts only what is missing (deterministic ids: a second run changes nothing) and prints
    the dev API keys it creates, once. Needs the migrated schema and a superuser connection.
    """
    report = seed_database(database_url, analytics=analytics)
    if as_json:
        typer.echo(json.dumps(_as_json(report), default=str))
        return
    _print_counts(report)
    _print_keys(report)


def _as_json(report: SeedReport) -> dict:
    metadata = report.as_metadata()
    return {
        "inserted_total": metadata["inserted_total"],
        "counts": metadata["counts"],
        # The plaintexts, as the table output shows them: this is their only showing.
        "new_keys": [
            {
                "organization": k.organization, "name": k.name, "id": str(k.id),
                "key": k.key.plaintext, "scopes": list(k.scopes),
                "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                "revoked": k.revoked,
            }
            for k in report.new_keys
        ],
        "existing_keys": metadata["existing_keys"],
    }  # fmt: skip


def _print_counts(report: SeedReport) -> None:
    table = Table(title=f"seeded: {report.inserted} row(s) inserted")
    table.add_column("table")
    table.add_column("inserted", justify="right")
    table.add_column("existing", justify="right")
    for name, counts in report.tables.items():
        table.add_row(f"app.{name}", str(counts.inserted), str(counts.existing))
    console.print(table)


def _print_keys(report: SeedReport) -> None:
    say = dict(highlight=False, soft_wrap=True, markup=False)  # never wrap or restyle a key
    if report.new_keys:
        console.print(
            f"[bold yellow]warning:[/] {len(report.new_keys)} new dev API key(s), shown ONLY NOW: "
            "the database keeps only their sha256, and no later run can print them again.",
            highlight=False,
        )
        for key in report.new_keys:
            state = (
                "revoked"
                if key.revoked
                else (f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "no expiry")
            )
            console.print(
                f"  {key.organization}/{key.name} ({' '.join(key.scopes)}; {state}): {key.key.plaintext}",
                **say,
            )
    if report.existing_keys:
        console.print(
            f"{len(report.existing_keys)} dev API key(s) already exist: "
            f"{', '.join(report.existing_keys)}. Their plaintexts were printed when they were "
            "created and are not recoverable (only hashes are stored); to get new ones, seed a "
            "freshly migrated database.",
            **say,
        )
