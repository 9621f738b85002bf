"""Read the documented part of a live PostgreSQL catalog into plain, sorted dataclasses.

Everything the data dictionary and the ERD show comes from here, so two databases built by the
same migrations give equal `Catalog` values. Names are schema-qualified (`app.users`) and the
catalog session pins `search_path` so types and expressions are qualified the same way whatever
the connecting role's settings are.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row

from dagster_project.lib.db.postgres import connect
from dagster_project.lib.sqlfiles import read_sql

# Never documented: PostgreSQL's own schemas and the migration engine's bookkeeping.
EXCLUDED_SCHEMAS = ("pg_catalog", "information_schema", "platform_meta")

RELATION_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view"}
CONSTRAINT_KINDS = {
    "p": "primary key",
    "f": "foreign key",
    "u": "unique",
    "c": "check",
    "x": "exclusion",
}


def _sql(name: str) -> str:
    return read_sql("dagster_project.lib.docs", name)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None = None
    identity: str = ""  # 'a' always, 'd' by default, '' none
    generated: str = ""  # 's' stored generated column ('' none)
    comment: str | None = None


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # a CONSTRAINT_KINDS value
    definition: str
    columns: tuple[str, ...] = ()
    validated: bool = True
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Index:
    name: str
    definition: str
    unique: bool
    valid: bool = True
    backs_constraint: str | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    command: str
    permissive: bool
    roles: tuple[str, ...]
    using: str | None
    check: str | None


@dataclass(frozen=True)
class Trigger:
    name: str
    definition: str
    enabled: str  # pg_trigger.tgenabled: O origin, D disabled, R replica, A always


@dataclass(frozen=True)
class Grant:
    grantee: str
    privilege: str
    column: str | None = None


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    kind: str  # a RELATION_KINDS value
    columns: tuple[Column, ...]
    comment: str | None = None
    rls_enabled: bool = False
    rls_forced: bool = False
    partition_key: str | None = None
    default_partitions: tuple[str, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    policies: tuple[Policy, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    grants: tuple[Grant, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def stores_rows(self) -> bool:
        """Tables hold data; a plain view only shows other tables' columns."""
        return self.kind != "view"

    @property
    def foreign_keys(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.kind == "foreign key")


@dataclass(frozen=True)
class DbType:
    schema: str
    name: str
    kind: str  # enum or domain
    labels: tuple[str, ...] = ()
    base_type: str | None = None
    not_null: bool = False
    default: str | None = None
    checks: tuple[Constraint, ...] = ()
    comment: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Catalog:
    tables: tuple[Table, ...]
    types: tuple[DbType, ...] = ()

    def type(self, qualified: str) -> DbType | None:
        return next((t for t in self.types if t.qualified == qualified), None)

    def references_to(self, qualified: str) -> list[tuple[Table, Constraint]]:
        """Foreign keys of any table that point at `qualified`, sorted."""
        return sorted(
            ((t, fk) for t in self.tables for fk in t.foreign_keys if fk.ref_table == qualified),
            key=lambda pair: (pair[0].qualified, pair[1].name),
        )


def read_catalog(url: str, *, excluded_schemas: tuple[str, ...] = EXCLUDED_SCHEMAS) -> Catalog:
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        # Only pg_catalog on the path: every application name is printed schema-qualified, so
        # the text doesn't depend on a role's search_path (and pg_catalog functions stay short).
        cur.execute("SET search_path = pg_catalog")
        excluded = list(excluded_schemas)
        relations = cur.execute(_sql("relations.sql"), {"excluded": excluded}).fetchall()
        oids = [r["oid"] for r in relations]

        def per_relation(sql_name: str, key: str = "relid") -> dict[int, list[dict[str, Any]]]:
            grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for row in cur.execute(_sql(sql_name), {"oids": oids}).fetchall():
                grouped[row[key]].append(row)
            return grouped

        columns = per_relation("columns.sql")
        constraints = per_relation("constraints.sql")
        indexes = per_relation("indexes.sql")
        policies = per_relation("policies.sql")
        triggers = per_relation("triggers.sql")
        grants = per_relation("grants.sql")
        partitions = per_relation("partitions.sql", key="parent")
        types = cur.execute(_sql("types.sql"), {"excluded": excluded}).fetchall()
        domain_checks: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in cur.execute(_sql("domain_checks.sql"), {"excluded": excluded}).fetchall():
            domain_checks[row["domain"]].append(row)

    tables = [
        Table(
            schema=r["schema"],
            name=r["name"],
            kind=RELATION_KINDS[r["kind"]],
            comment=r["comment"],
            rls_enabled=r["rls_enabled"],
            rls_forced=r["rls_forced"],
            partition_key=r["partition_key"],
            default_partitions=tuple(
                sorted(p["name"] for p in partitions[r["oid"]] if p["bound"] == "DEFAULT")
            ),
            # attnum order is the table's own column order: the same for every database built
            # by the same migrations, and the order a reader expects.
            columns=tuple(_column(c) for c in columns[r["oid"]]),
            constraints=tuple(
                sorted((_constraint(c) for c in constraints[r["oid"]]), key=lambda c: c.name)
            ),
            indexes=tuple(sorted((_index(i) for i in indexes[r["oid"]]), key=lambda i: i.name)),
            policies=tuple(sorted((_policy(p) for p in policies[r["oid"]]), key=lambda p: p.name)),
            triggers=tuple(
                sorted(
                    (Trigger(t["name"], t["definition"], t["enabled"]) for t in triggers[r["oid"]]),
                    key=lambda t: t.name,
                )
            ),
            grants=tuple(
                sorted(
                    {
                        Grant(g["grantee"], g["privilege"], g["column_name"])
                        for g in grants[r["oid"]]
                    },
                    key=lambda g: (g.grantee, g.column or "", g.privilege),
                )
            ),
        )
        for r in relations
    ]
    db_types = [
        DbType(
            schema=t["schema"],
            name=t["name"],
            kind="enum" if t["kind"] == "e" else "domain",
            labels=tuple(t["labels"]),
            base_type=t["base_type"],
            not_null=t["not_null"],
            default=t["default"],
            comment=t["comment"],
            checks=tuple(
                sorted(
                    (
                        Constraint(c["name"], "check", c["definition"], ("VALUE",), c["validated"])
                        for c in domain_checks[f"{t['schema']}.{t['name']}"]
                    ),
                    key=lambda c: c.name,
                )
            ),
        )
        for t in types
    ]
    partitioned = {t.name for t in tables if t.kind == "partitioned table"}
    tables = [t for t in tables if not _retired_partition(t.name, partitioned)]
    return Catalog(
        tuple(sorted(tables, key=lambda t: t.qualified)),
        tuple(sorted(db_types, key=lambda t: t.qualified)),
    )


# Partition maintenance (lib/partitions) keeps an expired daily partition as a plain table
# `<parent>_pYYYYMMDD_detached` until someone dumps and drops it, and an interrupted detach leaves
# `<parent>_pYYYYMMDD`. Both are the parent's rows with the parent's (classified) columns and come
# and go like partitions: documenting them would make production drift every day.
_RETIRED_PARTITION = re.compile(r"^(?P<parent>.+)_p[0-9]{8}(?:_detached)?$")


def _retired_partition(name: str, partitioned: set[str]) -> bool:
    match = _RETIRED_PARTITION.match(name)
    return bool(match) and match["parent"] in partitioned


def _column(row: dict[str, Any]) -> Column:
    return Column(
        row["name"],
        row["type"],
        row["not_null"],
        row["default"],
        row["identity"],
        row["generated"],
        row["comment"],
    )


def _constraint(row: dict[str, Any]) -> Constraint:
    return Constraint(
        name=row["name"],
        kind=CONSTRAINT_KINDS[row["kind"]],
        definition=row["definition"],
        columns=tuple(row["columns"]),
        validated=row["validated"],
        ref_table=row["ref_table"],
        ref_columns=tuple(row["ref_columns"]),
    )


def _index(row: dict[str, Any]) -> Index:
    return Index(
        row["name"], row["definition"], row["is_unique"], row["valid"], row["backs_constraint"]
    )


def _policy(row: dict[str, Any]) -> Policy:
    return Policy(
        row["name"],
        row["command"],
        row["permissive"],
        tuple(row["roles"]),
        row["using_expr"],
        row["check_expr"],
    )
