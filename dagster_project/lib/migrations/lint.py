"""Check migration files before they reach a database.

    lint_directory(Path("migrations/operational"))  -> list[LintViolation], empty when clean

Checks, each reported as `path:line: [rule] message`:
  file-name, missing-pair, duplicate-version, empty-file, encoding   every file
  transaction-marker   CONCURRENTLY & co. in a file the runner wraps in a transaction; every file
  transaction-control  BEGIN/COMMIT/ROLLBACK & co. in such a file (the runner refuses it too,
                       with the same test: sqlsplit.transaction_control_lines); every file
  squawk:<rule>        squawk's lock-safety rules (real `squawk` binary)  UP files
  primary-key, snake-case, naming-prefix, partition-unique-key,
  drop-without-allow   our conventions (lint_rules.py)                    UP files

DOWN files get only the file checks and transaction-marker: they exist to undo, i.e. to drop.

Opt-outs, written as `--` comments anywhere in the UP file (they cover the whole file):
  -- lint:allow squawk:<rule>[, squawk:<rule>...] [reason]   silence those squawk rules
  -- lint:allow-drop <reason>                                 permit DROP; the reason is required
  -- lint:allow-no-primary-key <reason>                       permit tables without a primary key
squawk's own `-- squawk-ignore <rule>` (next statement) and `-- squawk-ignore-file <rule>` work
too, since the file goes to squawk unchanged. Our other rules have no opt-out on purpose.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dagster_project.lib.migrations.errors import MigrationError, MigrationSourceError
from dagster_project.lib.migrations.lint_rules import (
    Finding,
    PartitionKey,
    UpFileChecker,
    transaction_marker_findings,
)
from dagster_project.lib.migrations.source import (
    ParsedName,
    has_no_transaction_marker,  # the runner's own test for `-- migrate:no-transaction`
    parse_filename,
)
from dagster_project.lib.migrations.sqlsplit import (
    COMMENT,
    Statement,
    split_statements,
    tokenize,
    transaction_control_lines,
)

# squawk 2.x rules switched off. Every other rule squawk runs by default stays on: the ones
# about locks on live tables (concurrent indexes, NOT VALID constraints, column type changes,
# volatile defaults, transaction nesting, ...) plus cheap type advice (timestamptz, identity).
EXCLUDED_SQUAWK_RULES = (
    # The runner sets lock_timeout and statement_timeout (configs/migrate.yaml) on the session
    # before every migration, so a SET in each file would only duplicate, or fight, the config.
    "require-lock-timeout",
    "require-statement-timeout",
    # Integer width is a data-model choice, not a lock problem: squawk flags every int and
    # smallint column, including small counters and enums that will never need 64 bits.
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    # We use varchar(n) on purpose as a length check. Widening it later is a catalog-only change
    # in PostgreSQL >= 9.2, and squawk's changing-column-type still flags that ALTER itself.
    "prefer-text-field",
    # Our `drop-without-allow` rule covers every DROP (and asks for a written reason), so these
    # would report the same statement twice and need a second opt-out. ban-drop-database stays.
    "ban-drop-column",
    "ban-drop-constraint",
    "ban-drop-default",
    "ban-drop-domain",
    "ban-drop-extension",
    "ban-drop-function",
    "ban-drop-generated-expression",
    "ban-drop-index",
    "ban-drop-not-null",
    "ban-drop-policy",
    "ban-drop-schema",
    "ban-drop-sequence",
    "ban-drop-table",
    "ban-drop-trigger",
    "ban-drop-type",
    "ban-drop-view",
)
# A pathological file should not hang CI; real migrations lint in milliseconds.
SQUAWK_TIMEOUT_SECONDS = 60
ALLOW_SQUAWK = re.compile(
    r"--\s*lint:allow\s+(?P<rules>squawk:[a-z0-9-]+(?:\s*,\s*squawk:[a-z0-9-]+)*)", re.IGNORECASE
)
# `CREATE INDEX ... ON ONLY parent` builds nothing (it makes an invalid index on a partitioned
# parent, filled by attaching per-partition indexes built CONCURRENTLY), yet squawk asks for
# CONCURRENTLY, which PostgreSQL refuses on partitioned tables. So that finding is dropped.
_INDEX_ON_ONLY = re.compile(r"^create\s+(unique\s+)?index\b.*?\bon\s+only\b", re.I | re.S)


class LintToolError(MigrationError):
    """squawk is missing or failed: the environment needs fixing, not the migration."""


@dataclass(frozen=True)
class LintViolation:
    path: Path
    line: int  # 1-based; 1 for problems with the file as a whole (its name, its pair)
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.message}"


def lint_directory(directory: Path, *, use_squawk: bool = True) -> list[LintViolation]:
    """Every violation in a migrations directory (all files, their pairing, their SQL)."""
    if not directory.is_dir():
        raise MigrationSourceError(f"{directory}: migrations directory does not exist")
    named: list[tuple[Path, ParsedName]] = []
    violations: list[LintViolation] = []
    for path in _candidate_files(directory):
        parsed, problem = _parse_name(path)
        if problem:
            violations.append(problem)
        else:
            named.append((path, parsed))
    violations += _pairing_violations(named)
    # Version order, so a partitioned table declared by an earlier file is known to later ones.
    partitioned: dict[str, PartitionKey] = {}
    for path, parsed in sorted(named, key=lambda item: (item[1].version, item[1].direction)):
        violations += _lint_contents(path, parsed.direction, partitioned, use_squawk)
    return sorted(violations, key=lambda v: (str(v.path), v.line, v.rule))


def lint_file(path: Path, *, use_squawk: bool = True) -> list[LintViolation]:
    """One file's name and SQL. Pairing needs the directory: see lint_directory."""
    parsed, problem = _parse_name(path)
    if problem:
        return [problem]
    violations = _lint_contents(path, parsed.direction, {}, use_squawk)
    return sorted(violations, key=lambda v: (v.line, v.rule))


# -- files and names ----------------------------------------------------------------------------


def _candidate_files(directory: Path) -> list[Path]:
    """The files load_migrations reads: it skips sub-directories, dotfiles and a README."""
    return [
        path
        for path in sorted(directory.iterdir())
        if not (path.is_dir() or path.name.startswith(".") or path.name.lower() == "readme.md")
    ]


def _parse_name(path: Path) -> tuple[ParsedName | None, LintViolation | None]:
    try:
        return parse_filename(path.name), None
    except MigrationSourceError as error:
        message = str(error).removeprefix(f"{path.name}: ")
        return None, LintViolation(path, 1, "file-name", message)


def _pairing_violations(named: list[tuple[Path, ParsedName]]) -> list[LintViolation]:
    by_version: dict[str, dict[str, dict[str, Path]]] = {}  # version -> slug -> direction -> path
    for path, parsed in named:
        halves = by_version.setdefault(parsed.version, {}).setdefault(parsed.slug, {})
        halves[parsed.direction] = path
    violations = []
    for version, slugs in by_version.items():
        for slug, halves in slugs.items():
            violations += _missing_pair(version, slug, halves)
            if len(slugs) > 1:
                others = ", ".join(f"{version}_{other}" for other in sorted(slugs) if other != slug)
                for path in halves.values():
                    message = f"version {version} is also used by {others}"
                    violations.append(LintViolation(path, 1, "duplicate-version", message))
    return violations


def _missing_pair(version: str, slug: str, halves: dict[str, Path]) -> list[LintViolation]:
    for direction, other in (("up", "down"), ("down", "up")):
        if direction not in halves:
            message = f"missing its pair {version}_{slug}.{direction}.sql"
            return [LintViolation(halves[other], 1, "missing-pair", message)]
    return []


# -- file contents ------------------------------------------------------------------------------


def _lint_contents(
    path: Path, direction: str, partitioned: dict[str, PartitionKey], use_squawk: bool
) -> list[LintViolation]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return [LintViolation(path, 1, "encoding", f"not valid UTF-8 ({error.reason})")]
    statements = split_statements(text)
    if not statements:
        return [LintViolation(path, 1, "empty-file", "file is empty (only whitespace or comments)")]
    transactional = not has_no_transaction_marker(text)
    findings = transaction_marker_findings(statements) if transactional else []
    if transactional:
        findings += [
            Finding(line, "transaction-control", f"{word} in a file the runner wraps in a "
                    "transaction would split it; remove it or add `-- migrate:no-transaction`")
            for line, word in transaction_control_lines(text)
        ]  # fmt: skip
    if direction == "up":
        findings += UpFileChecker(partitioned).check(text)
    violations = [LintViolation(path, f.line, f.rule, f.message) for f in findings]
    if use_squawk and direction == "up":
        violations += squawk_violations(path, text, statements, in_transaction=transactional)
    return violations


# -- squawk -------------------------------------------------------------------------------------


def squawk_violations(
    path: Path, text: str, statements: list[Statement], *, in_transaction: bool
) -> list[LintViolation]:
    """squawk's findings for one UP file, minus the ones the file allows."""
    allowed = _allowed_squawk_rules(text)
    on_only_lines = {s.line for s in statements if _INDEX_ON_ONLY.match(s.text)}
    violations = []
    for finding in run_squawk(path, text, in_transaction=in_transaction):
        rule = f"squawk:{finding['rule_name']}"
        line = finding["line"] + 1  # squawk's JSON counts lines from 0 (its tty output from 1)
        if rule in allowed:
            continue
        if finding["rule_name"] == "require-concurrent-index-creation" and line in on_only_lines:
            continue
        message = finding["message"] + (f" {finding['help']}" if finding.get("help") else "")
        violations.append(LintViolation(path, line, rule, message))
    return violations


def run_squawk(path: Path, text: str, *, in_transaction: bool) -> list[dict]:
    """squawk's JSON findings for `text`, reported under the name `path`."""
    command = [
        find_squawk(),
        # An explicit empty config: otherwise squawk picks up any .squawk.toml above the current
        # directory, and the result would depend on where lint runs.
        "--config",
        os.devnull,
        "--reporter",
        "json",
        # The file goes in on stdin so squawk never treats a path as a glob pattern.
        "--stdin-filepath",
        str(path),
        "--exclude",
        ",".join(EXCLUDED_SQUAWK_RULES),
        # The runner wraps each migration in a transaction unless it says otherwise; squawk then
        # also flags statements that cannot run inside one (CREATE INDEX CONCURRENTLY).
        "--assume-in-transaction" if in_transaction else "--no-assume-in-transaction",
    ]
    # squawk only reads the file and prints: it opens no network connection unless it is asked
    # to (the `upload-to-github` subcommand, which we never call).
    result = subprocess.run(
        command,
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=SQUAWK_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode not in (0, 1):  # 0: clean, 1: findings; anything else is a failure
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[0] if detail else f"exit status {result.returncode}"
        raise LintToolError(f"{path}: squawk failed: {reason}")
    return json.loads(result.stdout or b"[]")


def find_squawk() -> str:
    """The squawk binary of this environment (next to the Python running us), else from PATH."""
    name = "squawk.exe" if os.name == "nt" else "squawk"
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file():
        return str(beside_python)
    on_path = shutil.which("squawk")
    if on_path:
        return on_path
    raise LintToolError(
        "squawk is not installed: run `uv sync` (squawk-cli is a project dependency), "
        "or lint without it (use_squawk=False)"
    )


def _allowed_squawk_rules(text: str) -> set[str]:
    allowed: set[str] = set()
    for token in tokenize(text):
        match = ALLOW_SQUAWK.match(token.text) if token.kind == COMMENT else None
        if match:
            allowed.update(rule.strip().lower() for rule in match["rules"].split(","))
    return allowed
