"""Validate a chunk of raw events, set-based in DuckDB, and shape what the loader sends.

    validator = Validator(envelope, reference, reference_time, clock_skew_seconds=300,
                          retention_days=7)
    result = validator.validate(chunk)       # chunk: Arrow table (line_no int64, raw string)
    result.accepted   # candidates, typed and costed, in index order; `duplicate` marks the
                      # later copies of a key inside the chunk (the first copy wins)
    result.quarantined  # line_no, reason, detail, organization_id, event_id

No per-row Python: the schema check is the SELECT lib/ingest/schema.py compiles, references
are joins against lib/ingest/reference.py's tables, the idempotency key is
md5(organization_id || ':' || event_id) computed here (vectorised) so PostgreSQL only compares
16-byte uuids. Costing follows the pricing contract (lib/pricing/categories.py, CATEGORIES): the
price row of the event's model, service tier and context tier in effect at occurred_at, one
exact DECIMAL cost per category, their sum or the provider's figure as cost_usd.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from dagster_project.lib.ingest.reference import Reference
from dagster_project.lib.ingest.schema import Envelope, diagnosis_sql, validation_sql
from dagster_project.lib.pricing.categories import CATEGORIES, NEW_COUNTS, cost_sql

# numeric(18, 10): a cost must stay below 10^8 USD.
MAX_COST = 10**8

# The event's total input: what the context tier and the context window are measured on.
_TOTAL_INPUT = " + ".join(f"t.{c.count}::BIGINT" for c in CATEGORIES if c.is_input)


# Each category's cost: the contract's rule, the same SQL text the reprice runs on PostgreSQL.
_COSTS = ", ".join(f"{cost_sql(c, f't.{c.count}', f'p.{c.rate}')} AS {c.cost}" for c in CATEGORIES)
_UNPRICED = ", ".join(
    f"CASE WHEN t.{c.count} > 0 AND p.{c.rate} IS NULL THEN '{c.key}' END" for c in CATEGORIES
)
_COST_SUM = " + ".join(f"t.{c.cost}" for c in CATEGORIES)

# The joins run on the few columns they need and the wide rows (metadata and all) join back
# once: carried through six joins they cost ~0.3 us per event more (docs/performance.md).
# The price row (docs/runbooks/ingestion.md, the pricing contract): the event's model and
# service tier, current (superseded rows are not read), in effect at occurred_at, and of those
# the largest context tier (above_input_tokens) the total input is over: that one row prices
# every category of the call.
ENRICH_SQL = f"""
WITH counted AS (
    SELECT line_no, organization_id, model, api_key_id, user_id, occurred_at,
           coalesce(service_tier, 'standard') AS service_tier,
           {", ".join(f"coalesce({c.count}, 0) AS {c.count}" for c in CATEGORIES)},
           provider_cost_usd
    FROM typed WHERE ok
), t AS (
    SELECT t.*, m.model_id, m.context_window, {_TOTAL_INPUT} AS total_input
    FROM counted AS t LEFT JOIN ref_models AS m ON m.model = t.model
), tier AS (  -- the chosen price row of each event that has one
    SELECT t.line_no, max_by(p.price_id, p.above_input_tokens) AS price_id
    FROM t
    JOIN ref_prices AS p ON p.model_id = t.model_id AND p.service_tier = t.service_tier
        AND p.effective_from <= t.occurred_at
        AND (p.effective_to IS NULL OR t.occurred_at < p.effective_to)
        AND (p.above_input_tokens = 0 OR t.total_input > p.above_input_tokens)
    GROUP BY t.line_no
), costed AS (
    SELECT t.*, p.price_id, {_COSTS}, concat_ws(', ', {_UNPRICED}) AS unpriced
    FROM t
    LEFT JOIN tier USING (line_no)
    LEFT JOIN ref_prices AS p ON p.price_id = tier.price_id
), checked AS (
SELECT t.line_no,
    CASE
        WHEN o.organization_id IS NULL
            THEN 'unknown_organization|no organization ' || t.organization_id
        WHEN NOT o.active THEN 'organization_not_active|organization ' || t.organization_id || ' is not active'
        WHEN t.model_id IS NULL THEN 'unknown_model|no model_registry entry ' || t.model
        WHEN t.api_key_id IS NOT NULL AND k.api_key_id IS NULL
            THEN 'api_key_not_in_organization|api key ' || t.api_key_id || ' is not the organization''s'
        WHEN t.user_id IS NOT NULL AND u.user_id IS NULL
            THEN 'user_not_in_organization|user ' || t.user_id || ' is not a member of the organization'
        WHEN t.occurred_at > $future_limit
            THEN 'occurred_in_future|occurred_at is after ' || $future_limit || ' (arrival + clock skew)'
        WHEN t.occurred_at < $oldest
            THEN 'older_than_retention|occurred_at is before ' || $oldest || ' (retention window)'
        WHEN d.day IS NULL THEN 'no_partition|no app.usage_events partition for ' || CAST(t.occurred_at AS DATE)
        WHEN t.api_key_id IS NOT NULL AND k.inactive_from <= t.occurred_at
            THEN 'api_key_inactive|api key ' || t.api_key_id || ' was revoked or expired at ' || k.inactive_from
        WHEN t.price_id IS NULL THEN 'no_price|' || t.model || ' has no ' || t.service_tier
             || ' price at ' || t.occurred_at
        WHEN t.total_input > t.context_window
            THEN 'exceeds_context_window|a total input of ' || t.total_input || ' tokens is more than '
                 || t.model || '''s context window of ' || t.context_window
        WHEN t.unpriced <> '' THEN 'unpriced_category|' || t.unpriced || ': no rate in price '
             || t.price_id || ' (' || t.model || ', ' || t.service_tier || ')'
        WHEN {_COST_SUM} >= {MAX_COST}
            THEN 'invalid_value|the cost exceeds numeric(18,10)'
        WHEN t.provider_cost_usd >= {MAX_COST}
            THEN 'invalid_value|provider_cost_usd rounded to 10 places exceeds numeric(18,10)'
    END AS error,
    t.model_id, t.service_tier, t.price_id, {", ".join(f"t.{c.cost}" for c in CATEGORIES)}
FROM costed AS t
LEFT JOIN ref_orgs AS o ON o.organization_id = t.organization_id
LEFT JOIN ref_keys AS k ON k.organization_id = t.organization_id AND k.api_key_id = t.api_key_id
LEFT JOIN ref_members AS u ON u.organization_id = t.organization_id AND u.user_id = t.user_id
LEFT JOIN ref_days AS d ON d.day = CAST(t.occurred_at AS DATE)
)
SELECT typed.* EXCLUDE (service_tier), checked.* EXCLUDE (line_no)
FROM typed JOIN checked USING (line_no)
"""

# metadata "as sent": DuckDB reads a JSON number as a double and writes it back shortest-first
# (1.50 -> 1.5, 1e2 -> 100.0, 0.1000000000000000055 -> 0.1), integers keep every digit. An
# object holding a non-integer number (outside strings) therefore travels as its whole raw line
# and PostgreSQL takes ->'metadata' from it: exactly what jsonb makes of the sent text. The
# others (most: strings, integers) go as DuckDB's rendering, which jsonb reads identically.
_FRACTION = r'^(?:[^"]|"(?:[^"\\]|\\.)*")*?[:,\[]\s*-?[0-9]+[.eE]'
_OLD = ("input_tokens", "output_tokens")  # envelope 1.0's categories: where they were
_COMPUTED = " + ".join(f"c.{c.cost}" for c in CATEGORIES)
# The columns of the staging table, in its order (lib/ingest/loader.py EVENT_COLUMNS).
ACCEPTED_SQL = f"""
WITH candidates AS (
    SELECT *, CAST(md5(CAST(organization_id AS VARCHAR) || ':' || event_id) AS UUID) AS key_id
    FROM enriched
    WHERE error IS NULL
), repeated AS (  -- keys sent more than once in this chunk, and the line of the first copy
    SELECT key_id, min(line_no) AS first_line FROM candidates GROUP BY key_id HAVING count(*) > 1
), fractions AS (  -- lines whose metadata DuckDB would re-render (_FRACTION): few
    SELECT chunk.line_no, chunk.raw
    FROM (SELECT line_no FROM candidates
          WHERE regexp_matches(metadata, '[0-9][.eE]') AND regexp_matches(metadata, '{_FRACTION}')
    ) AS f JOIN chunk USING (line_no)
)
SELECT c.line_no, c.key_id, c.occurred_at, c.organization_id, c.user_id, c.api_key_id,
       c.model_id, c.input_tokens, c.output_tokens, c.latency_ms, c.event_id, c.operation,
       c.status, c.error_code,
       -- the provider's figure when sent (cost_source provider), else the sum of the categories
       CAST(coalesce(c.provider_cost_usd, {_COMPUTED}) AS DECIMAL(18, 10)) AS cost_usd,
       c.metadata, c.price_id,
       {", ".join(f"CAST(c.{c.cost} AS DECIMAL(18, 10)) AS {c.cost}" for c in CATEGORIES if c.count in _OLD)},
       {", ".join(f"coalesce(c.{name}, 0) AS {name}" for name in NEW_COUNTS)},
       c.service_tier,
       CASE WHEN c.provider_cost_usd IS NULL THEN 'computed' ELSE 'provider' END AS cost_source,
       {", ".join(f"CAST(c.{c.cost} AS DECIMAL(18, 10)) AS {c.cost}" for c in CATEGORIES if c.count not in _OLD)},
       f.raw AS metadata_line,
       CAST(c.line_no > coalesce(r.first_line, c.line_no) AS INTEGER) AS duplicate,
       -- the key's bucket (its first byte mod 16): the advisory lock concurrent ingesters share;
       -- buckets are split over the shards, so a key (and every copy of it) has one shard
       CAST(('0x' || substr(CAST(c.key_id AS VARCHAR), 1, 2)) AS INTEGER) % 16 AS bucket
FROM candidates AS c
LEFT JOIN repeated AS r ON r.key_id = c.key_id
LEFT JOIN fractions AS f ON f.line_no = c.line_no
-- the primary key's order: each organization's rows contiguous, index inserts local
ORDER BY c.organization_id, c.occurred_at
"""  # fmt: skip

QUARANTINE_SCHEMA = pa.schema([
    ("line_no", pa.int64()), ("reason", pa.string()), ("detail", pa.string()),
    ("organization_id", pa.string()), ("event_id", pa.string()),
])  # fmt: skip


@dataclass
class Validated:
    accepted: pa.Table  # loader columns + `duplicate` (a later copy inside this chunk)
    quarantined: pa.Table  # QUARANTINE_SCHEMA


class Validator:
    def __init__(
        self,
        envelope: Envelope,
        reference: Reference,
        reference_time: datetime,
        *,
        clock_skew_seconds: int,
        retention_days: int,
        threads: int = 1,
    ) -> None:
        self.reference = reference
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        # One thread: the loaders (PostgreSQL) want the other core; DuckDB on two threads did
        # the same work with ~30% more CPU (docs/performance.md).
        self.con.execute(f"SET threads = {int(threads)}")
        self.con.execute("SET arrow_lossless_conversion = true")  # uuids as 16 bytes
        # Without a limit DuckDB keeps freed buffers. An ordinary chunk's working set is tens
        # of MB, but one of large lines needs ~30x its bytes (readers.CHUNK_BYTES: 16 MiB of
        # 1 MiB lines fit in 512 MB, 32 MiB in 1 GB, measured): 1 GB is twice the worst case.
        self.con.execute("SET memory_limit = '1GB'")
        self.validation_sql = validation_sql(envelope)
        self.diagnosis_sql = diagnosis_sql(envelope, "bad")
        self.enrich_sql = ENRICH_SQL
        self.params = {
            "future_limit": reference_time + timedelta(seconds=clock_skew_seconds),
            "oldest": reference_time - timedelta(days=retention_days),
        }
        self.con.register("incoming_models", reference.models)
        self.con.execute("CREATE TABLE ref_models AS SELECT model, CAST(model_id AS UUID) AS "
                         "model_id, context_window FROM incoming_models")  # fmt: skip
        self.con.register("incoming_prices", reference.prices)
        self.con.execute("CREATE TABLE ref_prices AS SELECT CAST(model_id AS UUID) AS model_id, "
                         "* EXCLUDE (model_id) FROM incoming_prices")  # fmt: skip
        self.con.register("ref_days", reference.partition_days)
        self._tenant_tables()

    def validate(self, chunk: pa.Table) -> Validated:
        con = self.con
        con.register("chunk", chunk)
        con.execute(f"CREATE OR REPLACE TEMP TABLE typed AS {self.validation_sql}")
        orgs = [str(o) for (o,) in con.execute(
            "SELECT DISTINCT organization_id FROM typed WHERE ok").fetchall()]  # fmt: skip
        if self.reference.load_organizations(orgs):
            self._tenant_tables()
        con.execute(f"CREATE OR REPLACE TEMP TABLE enriched AS {self.enrich_sql}", self.params)
        accepted = con.execute(ACCEPTED_SQL).fetch_arrow_table()
        quarantined = self._quarantine(chunk)
        con.unregister("chunk")
        return Validated(accepted, quarantined)

    def _tenant_tables(self) -> None:
        """The tenant reference data as typed DuckDB tables (uuid joins, no casts per row)."""
        ref = self.reference
        for name, table, columns in (
            ("ref_orgs", ref.orgs, "CAST(organization_id AS UUID) AS organization_id, active"),
            ("ref_keys", ref.keys, "CAST(organization_id AS UUID) AS organization_id, "
                                   "CAST(api_key_id AS UUID) AS api_key_id, inactive_from"),
            ("ref_members", ref.members, "CAST(organization_id AS UUID) AS organization_id, "
                                         "CAST(user_id AS UUID) AS user_id"),
        ):  # fmt: skip
            self.con.register("incoming", table)
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {columns} FROM incoming")
            self.con.unregister("incoming")

    def _quarantine(self, chunk: pa.Table) -> pa.Table:
        """The chunk's invalid lines, each with its first failing rule (a few per chunk: the
        diagnosis SQL, strings and all, runs on them alone)."""
        con = self.con
        bad = con.execute("SELECT line_no FROM typed WHERE NOT ok").fetch_arrow_table()
        (failed,) = con.execute("SELECT count(*) FROM enriched WHERE error IS NOT NULL").fetchone()
        if not bad.num_rows + failed:
            return QUARANTINE_SCHEMA.empty_table()
        con.register("bad", chunk.filter(pc.is_in(chunk["line_no"], bad["line_no"])))
        found = con.execute(f"""
            SELECT d.line_no, split_part(d.error, '|', 1) AS reason,
                   substr(d.error, strpos(d.error, '|') + 1) AS detail,
                   CAST(TRY_CAST(CASE WHEN json_valid(b.raw) THEN json_extract_string(b.raw, '$.organization_id') END AS UUID) AS VARCHAR) AS organization_id,
                   CASE WHEN json_valid(b.raw) AND json_type(b.raw, '$.event_id') = 'VARCHAR'
                        THEN left(json_extract_string(b.raw, '$.event_id'), 1000) END AS event_id
            FROM ({self.diagnosis_sql}) AS d JOIN bad AS b USING (line_no)
            UNION ALL
            SELECT line_no, split_part(error, '|', 1), substr(error, strpos(error, '|') + 1),
                   CAST(organization_id AS VARCHAR), event_id
            FROM enriched WHERE error IS NOT NULL
            ORDER BY line_no
        """)  # fmt: skip
        quarantined = found.fetch_arrow_table().cast(QUARANTINE_SCHEMA)
        con.unregister("bad")
        return quarantined
