"""What may leave the operational database, derived from configs/data-classification.yml.

Per column of each copied table:
    secret        never: not selected, not even by the role that reads (it has no grant on it)
    confidential  `<column>_pseudonym` = lower-hex HMAC-SHA256(key, the value as text); NULL stays
                  NULL. The same value gives the same pseudonym under one key, so analysts can
                  join and count distinct values without seeing them.
    public, internal  as it is

The HMAC is computed by the operational server inside the export SELECT, with the built-in
sha256() (pgcrypto's hmac() is not installed, and the loader role may not install anything):
HMAC(K, m) = H((K' xor opad) || H((K' xor ipad) || m)), K' the key padded to the 64-byte block
(RFC 2104). The two padded keys are passed as transaction-local settings, bound as parameters,
so the key never appears in statement text (pg_stat_activity, logs). `pseudonym()` is the
Python reference the tests compare against. Cost, 1M events with 70% metadata
(docs/performance.md, "Warehouse load"): on the DuckDB target the HMAC takes the raw ADBC path
from 367k to 278k rows/s (0.76), and load_hours runs at 0.90 of that; on the PostgreSQL target
the HMAC costs nothing measurable (the source computes it while the target writes).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from dagster_project.lib.docs.classification import Classification, load_classification
from dagster_project.lib.warehouse.errors import WarehouseError

# The operational tables the loader copies, in load order (events first: the big one).
COPIED_TABLES = (
    "app.usage_events", "app.organizations", "app.users", "app.memberships", "app.api_keys",
    "app.model_registry", "app.model_prices", "app.budgets",
)  # fmt: skip
EVENTS = "app.usage_events"
PSEUDONYM_SUFFIX = "_pseudonym"
IPAD_SETTING, OPAD_SETTING = "platform.pseudonym_ipad", "platform.pseudonym_opad"
_BLOCK = 64  # SHA-256's block size in bytes (RFC 2104's B)
_PSEUDONYM = "encode(sha256(_k.opad || sha256(_k.ipad || convert_to(({})::text, 'UTF8'))), 'hex')"
_PADS = sql.SQL(
    "CROSS JOIN (SELECT decode(current_setting({}), 'hex') AS ipad, "
    "decode(current_setting({}), 'hex') AS opad) AS _k"
).format(sql.Literal(IPAD_SETTING), sql.Literal(OPAD_SETTING))
SET_PADS = f"SELECT set_config('{IPAD_SETTING}', %s, true), set_config('{OPAD_SETTING}', %s, true)"


@dataclass(frozen=True)
class ExportColumn:
    source: str  # the operational column
    target: str  # the landing column
    pseudonymised: bool


@dataclass(frozen=True)
class ExportTable:
    source: str  # app.<table>
    columns: tuple[ExportColumn, ...]

    @property
    def name(self) -> str:
        return self.source.split(".", 1)[1]

    @property
    def target(self) -> str:
        return f"landing.{self.name}"

    @property
    def target_columns(self) -> list[str]:
        return [c.target for c in self.columns]

    @property
    def pseudonymised(self) -> bool:
        return any(c.pseudonymised for c in self.columns)


def export_plan(classification: Classification | Path | None = None) -> dict[str, ExportTable]:
    """`app.<table>` -> its ExportTable, for every copied table, from the classification."""
    if not isinstance(classification, Classification):
        classification = load_classification(classification)
    return {table: export_table(classification, table) for table in COPIED_TABLES}


def export_table(classification: Classification, table: str) -> ExportTable:
    columns = classification.tables.get(table)
    if not columns:
        raise WarehouseError(
            f"{classification.source}: {table} is not classified; nothing may leave"
        )
    out = []
    for name, spec in columns.items():
        if spec.classification == "secret":
            continue
        hidden = spec.classification == "confidential"
        out.append(ExportColumn(name, name + PSEUDONYM_SUFFIX if hidden else name, hidden))
    return ExportTable(table, tuple(out))


def pads(key: bytes) -> tuple[str, str]:
    """The HMAC inner and outer padded keys as hex, for SET_PADS."""
    if not key:
        raise WarehouseError("the pseudonym key is empty; set WAREHOUSE_PSEUDONYM_KEY")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def pseudonym(key: bytes, value: str | None) -> str | None:
    """The reference: what the SELECT computes for one value (its text form)."""
    if value is None:
        return None
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def select_sql(
    table: ExportTable, *, casts: dict[str, str] | None = None, where: sql.Composable | None = None
) -> sql.Composed:
    """SELECT of the exportable columns, named as in landing, optionally cast to landing's types."""
    items = []
    for c in table.columns:
        expr: sql.Composable = sql.Identifier(c.source)
        if c.pseudonymised:
            expr = sql.SQL(_PSEUDONYM).format(expr)
        if casts:
            expr = sql.SQL("({})::{}").format(expr, sql.SQL(casts[c.target]))
        items.append(sql.SQL("{} AS {}").format(expr, sql.Identifier(c.target)))
    schema, name = table.source.split(".")
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(items), sql.Identifier(schema, name)
    )
    if table.pseudonymised:
        query = sql.SQL("{} {}").format(query, _PADS)
    return query if where is None else sql.SQL("{} WHERE {}").format(query, where)
