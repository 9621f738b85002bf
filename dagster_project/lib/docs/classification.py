"""configs/data-classification.yml: load it and check it against a catalog.

Two rules (issue 3, T009/T023):
- coverage: every column of every documented relation is classified, and every classified
  column exists;
- secrets: a `secret` column is stored so that the database itself rejects plaintext. The rule,
  also written at the top of the YAML file, is in `SECRET_STORAGE` and `_secret_problem`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dagster_project.lib import config as config_file
from dagster_project.lib.docs.catalog import Catalog, Constraint, Table
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.paths import CONFIGS_DIR

DEFAULT_PATH = CONFIGS_DIR / "data-classification.yml"
LEVELS = ("public", "internal", "confidential", "secret")
# A positive count of days, weeks, months (mo, so it can't be read as minutes) or years, or
# "until_deleted": kept while the owning entity exists.
_RETENTION = re.compile(r"^(?:[1-9][0-9]*(?:d|w|mo|y)|until_deleted)$")

# storage → digest size in bytes. A digest column must be pinned to exactly that size, as raw
# bytes or as lowercase hex, so a free-form value (a plaintext key) cannot be stored in it.
SECRET_STORAGE = {"sha256": 32, "hmac_sha256": 32, "sha512": 64, "hmac_sha512": 64}
# Ciphertext can't be told from plaintext by the database; what it can pin is the envelope:
# bytea and at least a key-version byte + 96-bit nonce + 128-bit AEAD tag (1 + 12 + 16 bytes).
# That rules out text columns and bare short values, which is the part a schema can enforce.
ENCRYPTED_MIN_BYTES = 29
_TEXT_TYPES = re.compile(r"^(?:text|character(?: varying)?(?:\(\d+\))?)$")


class ClassificationError(PlatformError, ValueError):
    """The classification file is missing or malformed."""


@dataclass(frozen=True)
class ColumnClass:
    # Empty when absent: `check` then names the column ("classification '' is not one of ...").
    classification: str = ""
    retention: str = ""
    note: str | None = None
    storage: str | None = None


@dataclass(frozen=True)
class Classification:
    tables: dict[str, dict[str, ColumnClass]]
    source: Path

    def column(self, table: str, column: str) -> ColumnClass | None:
        return self.tables.get(table, {}).get(column)


@dataclass(frozen=True)
class _ClassificationFile:
    tables: dict[str, dict[str, ColumnClass]]


def load_classification(path: Path | str | None = None) -> Classification:
    """The file's tables; unknown keys (a typo such as `retension` must not pass as "no
    value") and wrong types are refused by the strict loader (lib/config.py)."""
    source = Path(path or DEFAULT_PATH)
    spec = config_file.load(
        source, _ClassificationFile, what="classification file", error=ClassificationError
    )
    return Classification(spec.tables, source)


def check(catalog: Catalog, classification: Classification) -> list[str]:
    """Every problem, one line each, naming table.column; empty when the file is right."""
    problems: list[str] = []
    for table in catalog.tables:
        entries = classification.tables.get(table.qualified, {})
        for column in table.columns:
            entry = entries.get(column.name)
            where = f"{table.qualified}.{column.name}"
            if entry is None:
                problems.append(f"{where}: not classified")
                continue
            problems += [f"{where}: {p}" for p in _entry_problems(entry)]
            if entry.classification == "secret":
                problem = _secret_problem(catalog, table, column.name, column.type, entry)
                if problem:
                    problems.append(f"{where}: {problem}")
        for name in sorted(set(entries) - {c.name for c in table.columns}):
            problems.append(f"{table.qualified}.{name}: classified but no such column")
    for name in sorted(set(classification.tables) - {t.qualified for t in catalog.tables}):
        problems.append(f"{name}: classified but no such table")
    return problems


def _entry_problems(entry: ColumnClass) -> list[str]:
    found = []
    if entry.classification not in LEVELS:
        found.append(f"classification {entry.classification!r} is not one of {', '.join(LEVELS)}")
    if not _RETENTION.match(entry.retention):
        found.append(
            f"retention {entry.retention!r} is not e.g. 30d, 12w, 13mo, 7y or until_deleted"
        )
    if entry.storage is not None and entry.classification != "secret":
        found.append("storage applies to secret columns only")
    return found


def _secret_problem(
    catalog: Catalog, table: Table, column: str, type_: str, entry: ColumnClass
) -> str | None:
    kinds = ", ".join([*SECRET_STORAGE, "encrypted"])
    if entry.storage is None:
        return f"secret column needs `storage:` ({kinds})"
    if entry.storage != "encrypted" and entry.storage not in SECRET_STORAGE:
        return f"unknown storage {entry.storage!r} ({kinds})"
    if not table.stores_rows:
        return "a view cannot enforce how a secret is stored: do not expose secret columns in views"
    # Terms the database enforces on every stored value: the column's validated CHECKs, and
    # those of its domain (with VALUE standing for the column).
    base_type, terms = type_, _terms(table.constraints, column)
    domain = catalog.type(type_)
    if domain is not None and domain.kind == "domain":
        base_type = domain.base_type or type_
        terms |= _terms(domain.checks, "VALUE", rename_to=column)
    col = _ident(column)
    if entry.storage == "encrypted":
        sizes = [
            int(m[1])
            for t in terms
            if (m := re.fullmatch(rf"(?:octet_)?length\({col}\)>=(\d+)", t))
        ]
        if base_type == "bytea" and any(size >= ENCRYPTED_MIN_BYTES for size in sizes):
            return None
        return (
            f"could hold plaintext: encrypted storage needs bytea with a validated "
            f"CHECK (octet_length({column}) >= {ENCRYPTED_MIN_BYTES}) or more "
            f"(found type {type_})"
        )
    size = SECRET_STORAGE[entry.storage]
    if base_type == "bytea" and ({f"octet_length({col})={size}", f"length({col})={size}"} & terms):
        return None
    if _TEXT_TYPES.match(base_type) and f"{col}~'^[0-9a-f]{{{size * 2}}}$'" in terms:
        return None
    return (
        f"could hold plaintext: {entry.storage} storage needs bytea with a validated "
        f"CHECK (octet_length({column}) = {size}), or char({size * 2})/text with a validated "
        f"CHECK ({column} ~ '^[0-9a-f]{{{size * 2}}}$') (found type {type_} without it)"
    )


def _ident(name: str) -> str:
    """The column as PostgreSQL prints it in an expression (quoted unless a plain identifier)."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


def _terms(
    constraints: tuple[Constraint, ...], column: str, *, rename_to: str | None = None
) -> set[str]:
    """Top-level AND terms of the validated CHECKs on `column`, normalised: casts and blanks
    removed. Only a top-level conjunct holds for every row on its own; a term under OR, NOT or
    CASE doesn't, so those never match an expected term."""
    terms: set[str] = set()
    for con in constraints:
        if con.kind != "check" or not con.validated or column not in con.columns:
            continue
        body = con.definition.removeprefix("CHECK ").removesuffix(" NOT VALID")
        for term in _conjuncts(body):
            term = _CAST.sub("", term)
            term = re.sub(r"\s+", "", term)
            if rename_to is not None:
                term = re.sub(r"\bVALUE\b", _ident(rename_to), term)
            terms.add(term)
    return terms


# `::type` casts pg_get_constraintdef adds around literals and columns (e.g. '...'::text).
_CAST = re.compile(
    r"::(?:\"[^\"]+\"|[a-z_][a-z0-9_.]*)(?: varying| precision"
    r"| with(?:out)? time zone)?(?:\(\d+(?:,\d+)?\))?(?:\[\])*"
)


def _conjuncts(expr: str) -> list[str]:
    expr = _strip_parens(expr.strip())
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(expr):
        char = expr[i]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and expr.startswith(" AND ", i):
            parts.append(expr[start:i])
            start = i = i + len(" AND ")
            continue
        i += 1
    parts.append(expr[start:])
    if len(parts) == 1:
        return parts
    return [term for part in parts for term in _conjuncts(part)]


def _strip_parens(expr: str) -> str:
    """'((a = 1))' → 'a = 1', but '(a) AND (b)' stays as it is."""
    while expr.startswith("(") and expr.endswith(")"):
        depth, quoted = 0, False
        for i, char in enumerate(expr):
            if char == "'":
                quoted = not quoted
            elif not quoted and char == "(":
                depth += 1
            elif not quoted and char == ")":
                depth -= 1
                if depth == 0 and i < len(expr) - 1:
                    return expr  # the first paren closes before the end
        expr = expr[1:-1].strip()
    return expr
