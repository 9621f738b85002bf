"""Every shell command in the operator docs runs, in order, as a reader would run it.

Each ```sh / ```bash block of the docs below runs (one bash session per document, so exports
carry from block to block, `set -euo pipefail`, from the repository root) against scratch
resources: the fixed local URLs the docs show are replaced by a fresh test database, a scratch
warehouse database, a scratch Dagster storage database and a DuckDB file under tmp_path
(SUBSTITUTIONS). Every block must exit 0.

A block preceded by an HTML comment is instead:
  <!-- run-by: .ci/run -->              every line is a `make` target .ci/run calls
  <!-- run-by: tests/x.py::test_name -->  that test exists and runs the same thing
  <!-- not-run: <reason> -->             not run at all; few allowed (MAX_NOT_RUN)
Every fenced block names its language, and no non-shell block holds a shell command, so a
command cannot slip past by being fenced as something else.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dagster_project.lib import paths
from dagster_project.lib.db import postgres

ROOT = paths.PROJECT_ROOT
# The documents this test owns, and the operational database each starts from: the quickstart
# begins with an empty server; the runbooks with a database at the current version.
DOCS = {
    "docs/quickstart.md": "empty",
    "docs/runbooks/migrations.md": "migrated",
    "docs/runbooks/analytics.md": "migrated",
    "docs/scaling.md": "migrated",
}
SHELL_LANGUAGES = {"sh", "bash"}
OTHER_LANGUAGES = {"sql", "yaml", "text", "python", "json", "mermaid"}
# Blocks that cannot run here (a production server, a long-running server process). Kept few.
MAX_NOT_RUN = 4
# Commands a non-shell block must not start with (they would escape this test).
COMMAND_WORDS = re.compile(r"^\s*(\$ )?(platformctl|make|dagster|dbt|psql|createdb|uv|export)\b")
FENCE = re.compile(r"^```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*(?P<kind>not-run|run-by):\s*(?P<what>.*?)\s*-->$")
MAKE_CALL = re.compile(r"^make\s+(?:--?[a-z-]+\s+)*(?P<target>[a-z][a-z0-9-]*)(\s+[A-Z_]+=\S+)*$")
LOCAL = "postgresql://postgres@127.0.0.1:5432"


@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: tuple[str, str] | None  # (kind, what)


def blocks_of(doc: str) -> list[Block]:
    lines = (ROOT / doc).read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{doc}:{start + 1}: unclosed code fence")
        i += 1
        previous = next((line.strip() for line in reversed(lines[:start]) if line.strip()), "")
        marker = MARKER.match(previous)
        blocks.append(
            Block(
                doc,
                start + 1,
                fence["lang"],
                "\n".join(body),
                (marker["kind"], marker["what"]) if marker else None,
            )
        )
    return blocks


def all_blocks() -> list[Block]:
    return [block for doc in DOCS for block in blocks_of(doc)]


def commands_of(text: str) -> list[str]:
    """Command lines of a shell block: comments and blank lines dropped, continuations joined."""
    commands, current = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() and not current:
            continue
        current += line.strip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current:
            commands.append(current)
        current = ""
    return commands


def ci_run_targets() -> set[str]:
    targets = set()
    for line in (ROOT / ".ci" / "run").read_text().splitlines():
        match = MAKE_CALL.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            targets.add(match["target"])
    return targets


# -- the shape of the docs (cheap: no database) ---------------------------------------------


def test_every_fence_names_a_known_language_and_hides_no_command() -> None:
    for block in all_blocks():
        where = f"{block.doc}:{block.line}"
        assert block.language in SHELL_LANGUAGES | OTHER_LANGUAGES, (
            f"{where}: fence language {block.language!r} (use sh/bash for commands)"
        )
        if block.language not in SHELL_LANGUAGES:
            for line in block.text.splitlines():
                assert not COMMAND_WORDS.match(line), (
                    f"{where}: a command in a ```{block.language} block: {line}"
                )


def test_every_doc_has_commands_and_few_are_not_run() -> None:
    not_run = []
    for doc in DOCS:
        shell = [b for b in blocks_of(doc) if b.language in SHELL_LANGUAGES]
        assert shell, f"{doc}: no shell blocks (drop it from DOCS)"
        for block in shell:
            if block.marker and block.marker[0] == "not-run":
                assert block.marker[1], f"{doc}:{block.line}: not-run needs a reason"
                not_run.append(f"{doc}:{block.line}")
    assert len(not_run) <= MAX_NOT_RUN, not_run


def test_run_by_markers_name_what_really_runs_them() -> None:
    ci_targets = ci_run_targets()
    for block in all_blocks():
        if not block.marker or block.marker[0] != "run-by":
            continue
        where, what = f"{block.doc}:{block.line}", block.marker[1]
        if what == ".ci/run":
            for command in commands_of(block.text):
                match = MAKE_CALL.match(command)
                assert match, f"{where}: run-by .ci/run, but `{command}` is not a make call"
                assert match["target"] in ci_targets, f"{where}: .ci/run never runs `{command}`"
            continue
        path, _, test_name = what.partition("::")
        source = ROOT / path
        assert source.is_file() and test_name, f"{where}: run-by {what!r}: no such test file"
        assert re.search(rf"^def {re.escape(test_name)}\(", source.read_text(), re.MULTILINE), (
            f"{where}: {path} has no test {test_name}"
        )


def test_every_substitution_is_used() -> None:
    text = "\n".join(b.text for b in all_blocks() if b.language in SHELL_LANGUAGES)
    for literal in SUBSTITUTION_KEYS:
        assert literal in text, f"substitution {literal!r} matches nothing in the docs: drop it"


def test_the_progress_tracker_maps_every_seed_task_to_tests_that_exist() -> None:
    text = (ROOT / "docs" / "progress.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"^\| T0\d\d", line)]
    tasks = {int(n) for row in rows for n in re.findall(r"T0(\d\d)", row.split("|")[1])}
    assert tasks == set(range(1, 51)), sorted(set(range(1, 51)) ^ tasks)
    for row in rows:
        status = row.split("|")[2].strip()
        assert status.startswith(("done", "partial", "not done")), row
    for path, name in re.findall(r"`((?:unit|integration)/test_\w+\.py)(?:::(\w+))?", text):
        source = ROOT / "tests" / path
        assert source.is_file(), f"docs/progress.md names a missing test file: {path}"
        if name:
            assert re.search(rf"^def {name}\(", source.read_text(), re.MULTILINE), f"{path}::{name}"
    for name in re.findall(r"`::(\w+)`", text):
        assert any(
            re.search(rf"^def {name}\(", f.read_text(), re.MULTILINE)
            for f in (ROOT / "tests").rglob("test_*.py")
        ), f"docs/progress.md names a missing test: {name}"


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_of_these_docs_resolve() -> None:
    docs = [
        *DOCS,
        "docs/progress.md",
        *(str(p.relative_to(ROOT)) for p in (ROOT / "docs" / "release-notes").glob("*.md")),
    ]
    for doc in docs:
        for target in re.findall(r"\]\(([^)\s]+)\)", (ROOT / doc).read_text()):
            if re.match(r"^[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (ROOT / doc).parent / path if path else ROOT / doc
            assert resolved.exists(), f"{doc}: broken link {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", resolved.read_text(), re.MULTILINE)
                assert anchor in {github_anchor(h) for h in headings}, f"{doc}: no anchor {target}"


# -- running them ---------------------------------------------------------------------------

SUBSTITUTION_KEYS = (
    f"{LOCAL}/platform",
    f"{LOCAL}/warehouse",
    "postgresql+psycopg2://postgres@127.0.0.1:5432/dagster",
    "createdb -h 127.0.0.1 -p 5432 -U postgres dagster",
    "duckdb:///.data/warehouse.duckdb",
    "$PWD/.dagster_home",
)


def scratch_name() -> str:
    """A database name in the tests' `test_<pid>_<hex8>` form (tests/conftest.py)."""
    return f"test_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@dataclass
class Scratch:
    operational_url: str
    warehouse_url: str
    dagster_url: str
    duckdb_url: str
    home: Path

    def substitutions(self) -> dict[str, str]:
        server = urlsplit(postgres.normalize_url(self.dagster_url))
        psycopg2_url = (
            "postgresql+psycopg2://" + postgres.normalize_url(self.dagster_url).split("://", 1)[1]
        )
        createdb = (
            f"createdb -h {server.hostname} -p {server.port or 5432} -U {server.username or 'postgres'} "
            f"{postgres.database_name(self.dagster_url)}"
        )
        values = (
            self.operational_url, self.warehouse_url, psycopg2_url, createdb, self.duckdb_url,
            str(self.home),
        )  # fmt: skip
        return dict(zip(SUBSTITUTION_KEYS, values, strict=True))


@pytest.fixture
def scratch(
    request: pytest.FixtureRequest,
    make_db_url: Callable[[], str],
    operational_databases,
    pg_server_url: str,
    tmp_path: Path,
) -> Iterator[Scratch]:
    doc = request.node.callspec.params["doc"]
    operational = make_db_url() if DOCS[doc] == "empty" else operational_databases.create()
    # Created by the docs' own commands (migrate up creates the warehouse, createdb Dagster's).
    warehouse = postgres.with_database(pg_server_url, scratch_name())
    dagster = postgres.with_database(pg_server_url, scratch_name())
    home = tmp_path / "dagster_home"
    yield Scratch(
        operational, warehouse, dagster, f"duckdb:///{tmp_path / 'warehouse.duckdb'}", home
    )
    for url in (warehouse, dagster):
        postgres.drop_database(url)
    if operational in operational_databases.created:
        operational_databases.drop(operational)


def script_for(doc: str, substitutions: dict[str, str]) -> str:
    parts = ["set -euo pipefail", "trap 'echo \">>> end $(date +%s.%N)\" >&2' EXIT"]
    for block in blocks_of(doc):
        if block.language not in SHELL_LANGUAGES or block.marker:
            continue
        text = block.text
        for literal, value in substitutions.items():
            text = text.replace(literal, value)
        parts.append(f'echo ">>> {doc}:{block.line} $(date +%s.%N)" >&2')
        parts.append(text)
    return "\n".join(parts) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("doc", list(DOCS))
def test_the_docs_commands_run(doc: str, scratch: Scratch) -> None:
    script = script_for(doc, scratch.substitutions())
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DAGSTER_", "DBT_", "OTEL_", "MIGRATE_", "WAREHOUSE_", "MAKE"))
    }
    env.update(
        PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        # Whatever a block leaves unset points at scratch resources, never at a real database.
        DATABASE_URL=scratch.operational_url,
        WAREHOUSE_URL=scratch.duckdb_url,
        WAREHOUSE_PSEUDONYM_KEY="docs-test-key",
        DAGSTER_HOME=str(scratch.home),
        # make's own DAGSTER_HOME (the repository's .dagster_home) yields to a command-line
        # variable, and MAKEFLAGS carries command-line variables to every make call.
        MAKEFLAGS=f"DAGSTER_HOME={scratch.home}",
        MIGRATE_ACTOR="docs-test",
        DO_NOT_TRACK="1",
    )
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - started
    output = result.stdout[-3000:] + "\n--- stderr ---\n" + result.stderr[-5000:]
    assert result.returncode == 0, (
        f"{doc}: exit {result.returncode} after {elapsed:.0f} s\n{output}"
    )
    marks = re.findall(r"^>>> (\S+) (\d+\.\d+)$", result.stderr, re.MULTILINE)
    blocks = ", ".join(
        f"{where.rsplit(':', 1)[-1]}: {float(end) - float(start):.1f} s"
        for (where, start), (_, end) in zip(marks, marks[1:], strict=False)
    )
    print(f"{doc}: every command ran in {elapsed:.1f} s (seconds per block at line {blocks})")
