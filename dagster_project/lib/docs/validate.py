"""Where the documented catalog comes from, and the drift check against the committed docs.

By default the catalog is the one the migrations build on a scratch database, so the docs
describe the schema as the migrations define it, whatever state someone's dev database is in.
An explicit URL reads that live database instead: how an operator checks production for drift.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from dagster_project.lib.docs.catalog import Catalog, read_catalog
from dagster_project.lib.docs.classification import Classification, check
from dagster_project.lib.docs.generate import render_all
from dagster_project.lib.migrations.config import MigrateConfig, load_config

DOCS_TARGET = "operational"  # the PostgreSQL target; the analytics warehouse is documented by dbt
# Summary lines per file before "… and N more": enough to name every change of a typical
# migration, few enough that a big drift stays readable above the full diff.
_SUMMARY_LIMIT = 25


def migrated_catalog(
    config: MigrateConfig | None = None, *, server_url: str | None = None
) -> Catalog:
    """Apply every migration of the target to a scratch database on the target's server (or
    `server_url`'s) and read its catalog; the scratch database is dropped afterwards."""
    from dagster_project.lib.migrations.cycle import scratch_database
    from dagster_project.lib.migrations.runner import Runner

    config = config or load_config()
    # Quiet: spans of a throwaway apply are noise. Not protected: approvals guard real
    # databases, and a scratch database that lives for a few seconds is not one.
    config = replace(config, telemetry_exporter="none")
    target = replace(config.target(DOCS_TARGET), protected=False)
    with scratch_database(target.url(server_url)) as scratch:
        Runner(target, config=config, url=scratch, actor="platformctl-docs").up()
        return read_catalog(scratch)


def load_catalog(database_url: str | None, config: MigrateConfig | None = None) -> Catalog:
    return read_catalog(database_url) if database_url else migrated_catalog(config)


@dataclass
class ValidationReport:
    drift: list[str] = field(default_factory=list)  # one line per difference, naming where
    diff: str = ""  # unified diff, committed → generated
    classification: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drift and not self.classification


def validate(catalog: Catalog, classification: Classification, docs_dir: Path) -> ValidationReport:
    report = ValidationReport(classification=check(catalog, classification))
    diffs = []
    for relative, generated in sorted(render_all(catalog, classification).items()):
        path = docs_dir / relative
        committed = path.read_text() if path.is_file() else None
        if committed == generated:
            continue
        if committed is None:
            report.drift.append(f"{path}: missing (run `platformctl docs generate`)")
            continue
        report.drift += [f"{path}: {line}" for line in _summary(committed, generated)]
        diffs.append(
            "".join(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    fromfile=f"{path} (committed)",
                    tofile=f"{path} (from the database)",
                )
            )
        )
    report.diff = "".join(diffs)
    return report


# A line that opens a section: a dictionary table heading, a bold block label, an ERD entity.
_SECTION = re.compile(r"^(## .+|\*\*\w+\*\*|.*\{)$")


def _summary(committed: str, generated: str) -> list[str]:
    """'in <section>: + <line>' for each changed line, naming the table (and the block or the
    entity) it belongs to, so the summary alone says which table and column drifted."""
    old, new = committed.splitlines(), generated.splitlines()
    lines = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        lines += [f"in {_where(old, i)}: - {old[i].strip()}" for i in range(a1, a2)]
        lines += [f"in {_where(new, i)}: + {new[i].strip()}" for i in range(b1, b2)]
    if len(lines) > _SUMMARY_LIMIT:
        lines = lines[:_SUMMARY_LIMIT] + [f"… and {len(lines) - _SUMMARY_LIMIT} more changed lines"]
    return lines


def _where(lines: list[str], index: int) -> str:
    heading = block = None
    for line in reversed(lines[:index]):
        stripped = line.strip()
        if not _SECTION.match(stripped):
            continue
        if stripped.startswith("**") and block is None and heading is None:
            block = stripped.strip("*")
        elif not stripped.startswith("**"):
            heading = stripped.removeprefix("## ").rstrip(" {")
            break
    if heading is None:
        return "the file header"
    return f"{heading} / {block}" if block else heading
