"""What validation checks events against, read from PostgreSQL as the ingestion role.

Global reference data (models, prices, the existing usage_events partitions) is read once per
batch. Tenant data (the organization, its API keys, its members) is read per organization, the
first time a batch meets it, inside that tenant's transaction: row-level security then returns
exactly that organization's keys and members, so "the key belongs to the organization" is
the policy's answer, not a filter this code could get wrong. Results are Arrow tables that the
DuckDB validator joins against (lib/ingest/validate.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import psycopg
import pyarrow as pa

from dagster_project.lib.db.tenant import tenant_transaction
from dagster_project.lib.pricing.categories import RATE_COLUMNS

ORGS = pa.schema([("organization_id", pa.string()), ("active", pa.bool_())])
KEYS = pa.schema([("organization_id", pa.string()), ("api_key_id", pa.string()),
                  ("inactive_from", pa.timestamp("us", tz="UTC"))])  # fmt: skip
MEMBERS = pa.schema([("organization_id", pa.string()), ("user_id", pa.string())])

MODELS_SQL = """
SELECT m.provider || '/' || m.model_name || '@' || m.version AS model, m.id::text AS model_id,
       m.context_window
FROM app.model_registry AS m
"""
# The current price versions (a superseded row was corrected: its correction is current), every
# service tier and context tier, with every category's rate (NULL = not offered).
PRICES_SQL = f"""
SELECT id AS price_id, model_id::text, service_tier, above_input_tokens, effective_from,
       effective_to, {", ".join(RATE_COLUMNS)}
FROM app.model_prices
WHERE superseded_at IS NULL
"""
# Bounds of every partition of app.usage_events (daily, UTC midnights by construction).
PARTITIONS_SQL = """
SELECT pg_get_expr(c.relpartbound, c.oid)
FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = 'app.usage_events'::regclass
"""
# One round trip per organization, inside its tenant transaction (RLS filters all three).
TENANT_SQL = """
SELECT 'org', NULL::text, (o.status = 'active')::text, NULL::timestamptz FROM app.organizations AS o
UNION ALL
SELECT 'key', k.id::text, NULL, least(k.revoked_at, k.expires_at) FROM app.api_keys AS k
UNION ALL
SELECT 'member', m.user_id::text, NULL, NULL FROM app.memberships AS m
"""
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


class Reference:
    """Reference data for one batch; tenant data accumulates as organizations show up."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.models = _table(conn, MODELS_SQL, pa.schema([
            ("model", pa.string()), ("model_id", pa.string()), ("context_window", pa.int32()),
        ]))  # fmt: skip
        self.prices = _table(conn, PRICES_SQL, pa.schema([
            ("price_id", pa.int64()), ("model_id", pa.string()), ("service_tier", pa.string()),
            ("above_input_tokens", pa.int32()), ("effective_from", pa.timestamp("us", tz="UTC")),
            ("effective_to", pa.timestamp("us", tz="UTC")),
            *((rate, pa.decimal128(12, 6)) for rate in RATE_COLUMNS),
        ]))  # fmt: skip
        self.partition_days = pa.table(
            {"day": pa.array(sorted(_partition_days(conn)), pa.date32())}
        )
        self.seen: set[str] = set()
        self._orgs: list[tuple[str, bool]] = []
        self._keys: list[tuple[str, str, datetime | None]] = []
        self._members: list[tuple[str, str]] = []
        self.orgs, self.keys, self.members = (
            ORGS.empty_table(),
            KEYS.empty_table(),
            MEMBERS.empty_table(),
        )

    def load_organizations(self, organization_ids: Iterable[str]) -> int:
        """Read the organizations not seen yet; returns how many were read."""
        new = sorted({str(uuid.UUID(o)) for o in organization_ids} - self.seen)
        for org in new:
            with tenant_transaction(self.conn, org):
                rows = self.conn.execute(TENANT_SQL).fetchall()
            for kind, ident, active, inactive_from in rows:
                if kind == "org":
                    self._orgs.append((org, active == "true"))
                elif kind == "key":
                    self._keys.append((org, ident, inactive_from))
                else:
                    self._members.append((org, ident))
            self.seen.add(org)
        if new:
            self.orgs = _to_table(self._orgs, ORGS)
            self.keys = _to_table(self._keys, KEYS)
            self.members = _to_table(self._members, MEMBERS)
        return len(new)


def _table(conn: psycopg.Connection, query: str, schema: pa.Schema) -> pa.Table:
    rows = conn.execute(query).fetchall()
    conn.commit()
    return _to_table(rows, schema)


def _to_table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    arrays = [pa.array(column, f.type) for column, f in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _partition_days(conn: psycopg.Connection) -> set[date]:
    """UTC days covered by a partition. A partition is [from, to) on UTC midnights."""
    days: set[date] = set()
    for (bound,) in conn.execute(PARTITIONS_SQL).fetchall():
        match = _BOUND.search(bound or "")
        if not match:
            continue  # a DEFAULT partition: not a place events should go
        start, end = (datetime.fromisoformat(match[i]) for i in (1, 2))
        day = start.date()
        while datetime.combine(day, start.timetz()) < end and len(days) < 100_000:
            days.add(day)
            day += timedelta(days=1)
    conn.commit()
    return days
