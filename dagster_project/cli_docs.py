"""`platformctl docs ...`: thin commands over dagster_project.lib.docs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dagster_project.console import make_console
from dagster_project.lib.docs.classification import check, load_classification
from dagster_project.lib.docs.generate import render_all, write_all
from dagster_project.lib.docs.validate import load_catalog, validate
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.paths import DOCS_DIR

console = make_console()
err_console = make_console(stderr=True)

docs_app = typer.Typer(
    help="Data dictionary, ERD and data classification, generated from the schema.",
    no_args_is_help=True,
)

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Read this live database (e.g. production, to check it for drift). Default: apply "
        "migrations/operational to a scratch database on the DATABASE_URL server and read that.",
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
ClassificationOpt = Annotated[
    Path | None,
    typer.Option(
        "--classification", help="Default: configs/data-classification.yml.", show_default=False
    ),
]


def _say_problems(problems: list[str]) -> None:
    for problem in problems:
        err_console.print(f"[red]classification:[/] {problem}", highlight=False, soft_wrap=True)


@docs_app.command()
def generate(
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
    classification: ClassificationOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Docs directory to write into.")] = DOCS_DIR,
) -> None:
    """Write dictionary.md and erd/ (PlantUML, Mermaid). Exit 1 when a column is unclassified or
    a secret column could hold plaintext (the files are written anyway)."""
    catalog = load_catalog(database_url, load_config(config))
    classes = load_classification(classification)
    for path in write_all(render_all(catalog, classes), out):
        console.print(f"wrote {path}", highlight=False)
    problems = check(catalog, classes)
    _say_problems(problems)
    if problems:
        raise typer.Exit(1)


@docs_app.command("validate")
def validate_docs(
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
    classification: ClassificationOpt = None,
    docs_dir: Annotated[
        Path, typer.Option("--docs-dir", help="Committed docs to compare.")
    ] = DOCS_DIR,
) -> None:
    """Regenerate in memory and diff against the committed docs; also the classification check.
    Exit 1 on any drift or classification problem."""
    catalog = load_catalog(database_url, load_config(config))
    report = validate(catalog, load_classification(classification), docs_dir)
    for line in report.drift:
        err_console.print(f"[red]drift:[/] {line}", highlight=False, soft_wrap=True)
    if report.diff:
        typer.echo(report.diff, nl=False)
    _say_problems(report.classification)
    if not report.ok:
        if report.drift:
            err_console.print(
                "docs differ from the schema: run `platformctl docs generate` and "
                "commit the result (or fix the database)",
                highlight=False,
            )
        raise typer.Exit(1)
    console.print(f"[green]docs in sync[/] ({docs_dir}); every column classified")


@docs_app.command("classify-check")
def classify_check(
    database_url: UrlOpt = None,
    config: ConfigOpt = None,
    classification: ClassificationOpt = None,
) -> None:
    """Every column classified, no classified column missing, no secret column able to hold
    plaintext. Exit 1 with one line per problem."""
    catalog = load_catalog(database_url, load_config(config))
    problems = check(catalog, load_classification(classification))
    _say_problems(problems)
    if problems:
        raise typer.Exit(1)
    columns = sum(len(t.columns) for t in catalog.tables)
    console.print(
        f"[green]classification complete:[/] {len(catalog.tables)} tables, {columns} columns"
    )
