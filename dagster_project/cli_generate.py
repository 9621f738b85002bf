"""`platformctl generate-usage`: synthetic usage events for the seeded tenants (lib/generate)."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dagster_project.console import make_console
from dagster_project.lib.paths import SEEDS_DIR

console = make_console(highlight=False, soft_wrap=True)

# One command, merged into the root app by cli._register_commands.
generate_app = typer.Typer()


def _day(value: str | None) -> date | None:
    return None if value is None else datetime.strptime(value, "%Y-%m-%d").date()


@generate_app.command("generate-usage")
def generate_usage_command(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="File (.ndjson, .csv, .parquet; YYYYMMDD in the name = one file per UTC day) "
            "or directory (one usage-YYYYMMDD.<ext> per day). The manifest goes to <output>.manifest.json.",
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="ndjson | csv | parquet (default: from the extension; ndjson for a directory).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed and options: byte-identical files.")] = 42,
    orgs: Annotated[
        str | None,
        typer.Option(
            help="Seeded organizations: a count (the first N active) or slugs, comma-separated. Default: all active."
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="First UTC day, YYYY-MM-DD. Default: today - days (the window ends at today 00:00 UTC); pass it for reproducible output."
        ),
    ] = None,
    days: Annotated[int, typer.Option(help="Number of UTC days.")] = 1,
    events_per_hour: Annotated[
        float | None,
        typer.Option(help="Mean rows per hour, all classes (default 2000).", show_default=False),
    ] = None,
    events: Annotated[
        int | None,
        typer.Option(
            help="Exactly this many rows instead of --events-per-hour.", show_default=False
        ),
    ] = None,
    diurnal: Annotated[
        bool,
        typer.Option(
            "--diurnal/--no-diurnal", help="Daily UTC curve and quieter weekends, or flat."
        ),
    ] = True,
    model_mix: Annotated[
        str | None,
        typer.Option(
            help='Weights per model, e.g. "gpt-4o=0.5,claude-3-5-sonnet=0.3" (name or provider/name@version). Default: from the registry.'
        ),
    ] = None,
    error_rate: Annotated[
        float, typer.Option(help="Share of valid events with status error.")
    ] = 0.02,
    late_fraction: Annotated[
        float, typer.Option(help="Share of rows that arrive on a later UTC day than they occurred.")
    ] = 0.02,
    max_late_days: Annotated[int, typer.Option(help="How late a late row is at most.")] = 3,
    duplicate_fraction: Annotated[
        float,
        typer.Option(
            help="Share of rows that resend an event: exact copies and retries with a later occurred_at."
        ),
    ] = 0.01,
    invalid_fraction: Annotated[
        float, typer.Option(help="Share of rows ingestion must quarantine.")
    ] = 0.005,
    invalid_kinds: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated subset of: bad_type, negative_tokens, unknown_org, unknown_model, foreign_api_key, foreign_user, future_timestamp, missing_field, malformed_json (NDJSON only), unpriced_category, exceeds_context_window (1.1 only). Default: all the format and envelope allow."
        ),
    ] = None,
    rows_per_file: Annotated[
        int | None,
        typer.Option(
            help="Split into numbered parts of at most this many rows.", show_default=False
        ),
    ] = None,
    envelope: Annotated[
        str,
        typer.Option(
            help="Envelope version: 1.1 (token categories, service tier, provider cost, as the "
            "prices allow) or 1.0 (input and output tokens only, as files were before 1.1)."
        ),
    ] = "1.1",
    seeds_dir: Annotated[
        Path, typer.Option(help="Seed fixtures to read the tenants, keys and models from.")
    ] = SEEDS_DIR,
) -> None:
    """Write realistic usage events for the seeded organizations, keys, users and models.

    Every row is valid (on time or late), a duplicate, or invalid (by kind); <output>.manifest.json counts them per file, so ingestion can be checked against it exactly.
    """
    # numpy/pyarrow load only when this command runs, not for every `platformctl` command.
    from dagster_project.lib.generate import GenerateOptions, generate_usage, load_catalog, plan

    options = GenerateOptions(
        output=output,
        format=fmt,
        seed=seed,
        orgs=orgs,
        start=_day(start),
        days=days,
        events_per_hour=events_per_hour,
        events=events,
        diurnal=diurnal,
        model_mix=model_mix,
        error_rate=error_rate,
        late_fraction=late_fraction,
        max_late_days=max_late_days,
        duplicate_fraction=duplicate_fraction,
        invalid_fraction=invalid_fraction,
        invalid_kinds=invalid_kinds,
        rows_per_file=rows_per_file,
        envelope=envelope,
    )
    catalog = load_catalog(seeds_dir)
    manifest_path = plan(options, catalog).manifest
    began = time.perf_counter()
    manifest = generate_usage(options, catalog)
    _print_summary(manifest, manifest_path, time.perf_counter() - began)


def _print_summary(manifest: dict[str, Any], manifest_path: Path, seconds: float) -> None:
    t = manifest["totals"]
    table = Table(
        title=f"{manifest['window']['start']} .. {manifest['window']['end']}, {', '.join(manifest['organizations'])}"
    )
    table.add_column("class")
    table.add_column("rows", justify="right")
    rows = [
        ("valid", t["valid"]),
        ("  on time", t["on_time"]),
        ("  late", t["late"]),
        ("duplicates", t["duplicates"]),
        ("  exact resend", t["duplicate_exact"]),
        ("  retry, shifted occurred_at", t["duplicate_retry"]),
        ("invalid", t["invalid"]),
    ]
    rows += [(f"  {kind}", count) for kind, count in t["invalid_by_kind"].items()]
    for name, count in rows + [("total", t["rows"])]:
        table.add_row(name, f"{count:,}")
    console.print(table)
    files = manifest["files"]
    size = sum(f["bytes"] for f in files)
    console.print(
        f"wrote {len(files)} {manifest['options']['format']} file(s), {size / 2**20:,.1f} MiB, "
        f"{t['rows']:,} rows in {seconds:.1f} s ({t['rows'] / max(seconds, 1e-9):,.0f} rows/s)"
    )
    if manifest["envelope"] != "1.0":
        _print_categories(t)
    for f in files[:5]:
        console.print(f"  {manifest_path.parent / f['path']}: {f['rows']:,} rows")
    if len(files) > 5:
        console.print(f"  ... and {len(files) - 5} more")
    console.print(f"manifest: {manifest_path}")


def _print_categories(t: dict[str, Any]) -> None:
    """Envelope 1.1: what the valid events hold beyond input and output."""
    from dagster_project.lib.pricing.categories import CATEGORIES

    table = Table(title="valid events: categories, tiers, costs")
    table.add_column("")
    table.add_column("total", justify="right")
    for c in CATEGORIES:
        table.add_row(c.count, f"{t[f'valid_{c.count}']:,}")
    for tier, count in t["valid_by_service_tier"].items():
        table.add_row(f"service_tier {tier}", f"{count:,} events")
    table.add_row(
        "provider_cost_usd sent",
        f"{t['valid_provider_cost_events']:,} events "
        f"({t['valid_provider_cost_discrepancies']:,} differ from the price)",
    )
    table.add_row("cost by the prices", f"{t['valid_computed_cost_usd']} USD")
    table.add_row("cost_usd stored", f"{t['valid_cost_usd']} USD")
    console.print(table)
