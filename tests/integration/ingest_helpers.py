"""Shared pieces of the ingestion tests: a small tenant world, event builders, file writers.

The world: organizations A and B (active) and C (suspended); user UA in A, UB in B; keys KA
(A), KA_REVOKED (A, revoked an hour ago), KB (B); model MODEL with a price change one day ago
(2.5/10 USD per Mtok before, 1.25/5 after). Everything is relative to the database's now().
"""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from dagster_project.lib.ingest.config import IngestConfig

ORG_A = "1a000000-0000-4000-8000-00000000000a"
ORG_B = "1b000000-0000-4000-8000-00000000000b"
ORG_C = "1c000000-0000-4000-8000-00000000000c"  # suspended
UA = "1a000000-0000-4000-8000-0000000000a1"
UB = "1b000000-0000-4000-8000-0000000000b1"
KA = "1a000000-0000-4000-8000-0000000000aa"
KA_REVOKED = "1a000000-0000-4000-8000-0000000000ab"
KB = "1b000000-0000-4000-8000-0000000000bb"
MODEL_ID = "1d000000-0000-4000-8000-0000000000d1"
MODEL = "openai/gpt-4o@2024-08-06"
NEW_MODEL = "openai/gpt-new@1"  # priced only since an hour ago
OLD_PRICE = (Decimal("2.5"), Decimal("10"))  # until one day ago
NEW_PRICE = (Decimal("1.25"), Decimal("5"))  # since one day ago

WORLD_SQL = f"""
INSERT INTO app.organizations (id, slug, name, status) VALUES
    ('{ORG_A}', 'org-a', 'A', 'active'), ('{ORG_B}', 'org-b', 'B', 'active'),
    ('{ORG_C}', 'org-c', 'C', 'suspended');
INSERT INTO app.users (id, email) VALUES ('{UA}', 'ua@example.com'), ('{UB}', 'ub@example.com');
INSERT INTO app.memberships VALUES ('{ORG_A}', '{UA}', 'owner'), ('{ORG_B}', '{UB}', 'owner');
INSERT INTO app.api_keys (id, organization_id, name, key_prefix, key_hash, scopes, revoked_at,
                          created_at) VALUES
    ('{KA}', '{ORG_A}', 'ka', 'plk_kaaa', sha256('ka'), '{{usage:write}}', NULL, now() - interval '30 days'),
    ('{KA_REVOKED}', '{ORG_A}', 'ka-old', 'plk_kaab', sha256('kab'), '{{usage:write}}',
     now() - interval '1 hour', now() - interval '30 days'),
    ('{KB}', '{ORG_B}', 'kb', 'plk_kbbb', sha256('kb'), '{{usage:write}}', NULL, now() - interval '30 days');
INSERT INTO app.model_registry (id, provider, model_name, version, context_window)
    VALUES ('{MODEL_ID}', 'openai', 'gpt-4o', '2024-08-06', 128000);
INSERT INTO app.model_prices (model_id, effective_from, effective_to, input_usd_per_mtok, output_usd_per_mtok)
    VALUES ('{MODEL_ID}', date_trunc('hour', now()) - interval '60 days', date_trunc('hour', now()) - interval '1 day', 2.5, 10),
           ('{MODEL_ID}', date_trunc('hour', now()) - interval '1 day', NULL, 1.25, 5);
INSERT INTO app.model_registry (id, provider, model_name, version, context_window)
    VALUES ('1d000000-0000-4000-8000-0000000000d2', 'openai', 'gpt-new', '1', 1000);
INSERT INTO app.model_prices VALUES ('1d000000-0000-4000-8000-0000000000d2', now() - interval '1 hour', NULL, 1, 1);
"""


def make_world(url: str) -> datetime:
    """Insert the world (as the superuser); returns the database's now()."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(WORLD_SQL)
        return conn.execute("SELECT now()").fetchone()[0]


def price_change(url: str) -> datetime:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT effective_from FROM app.model_prices WHERE effective_to IS NULL"
        ).fetchone()[0]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(n: int = 0, *, ago: timedelta = timedelta(hours=2), **overrides: Any) -> dict:
    """A valid event of organization A, `ago` before now, unless overridden."""
    base = {
        "event_id": f"evt-{n:06d}",
        "organization_id": ORG_A,
        "user_id": UA,
        "api_key_id": KA,
        "model": MODEL,
        "operation": "chat.completions",
        "occurred_at": iso(datetime.now(UTC) - ago + timedelta(milliseconds=n)),
        "input_tokens": 1000 + n,
        "output_tokens": 200 + n % 7,
        "latency_ms": 300 + n,
        "status": "success",
        "error_code": None,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}  # `...`: leave the key out


def events(count: int, start: int = 0, **overrides: Any) -> list[dict]:
    orgs = (ORG_A, ORG_B)
    out = []
    for n in range(start, start + count):
        org = orgs[n % 2]
        refs = {"organization_id": org, "user_id": UA if org == ORG_A else UB,
                "api_key_id": KA if org == ORG_A else KB}  # fmt: skip
        out.append(event(n, **{**refs, **overrides}))
    return out


def write_ndjson(path: Path, rows: list[dict | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("".join(line + "\n" for line in lines))
    return path


FIELDS = ["event_id", "organization_id", "user_id", "api_key_id", "model", "operation",
          "occurred_at", "input_tokens", "output_tokens", "latency_ms", "status", "error_code",
          "metadata"]  # fmt: skip


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items()})
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    ints = {"input_tokens", "output_tokens", "latency_ms"}
    schema = pa.schema([(f, pa.int64() if f in ints else pa.string()) for f in FIELDS])
    data = [{f: json.dumps(r[f]) if isinstance(r.get(f), dict) else r.get(f) for f in FIELDS}
            for r in rows]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(data, schema), path)
    return path


def test_config(tmp_path: Path, **overrides: Any) -> IngestConfig:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    values = dict(
        landing_dir=landing, processed_dir=landing / "processed",
        dead_letter_dir=landing / "dead_letter", batch_size=1000, shards=2, max_attempts=1,
        backoff_initial_seconds=0.0, min_file_age_seconds=0.0,
    )  # fmt: skip
    values.update(overrides)
    return IngestConfig(**values)


test_config.__test__ = False  # not a test, despite its name


def stored(url: str) -> list[tuple]:
    """Every stored event (as the superuser), in a stable order, with its key and cost."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT e.organization_id::text, e.event_id, e.occurred_at, e.received_at, "
            "e.input_tokens, e.output_tokens, e.cost_usd, e.metadata, k.batch_id "
            "FROM app.usage_events e JOIN ingest.event_keys k "
            "ON k.key_id = md5(e.organization_id::text || ':' || e.event_id)::uuid "
            "ORDER BY 1, 2"
        ).fetchall()


def batches(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, state, submitted, accepted, duplicates, quarantined, late "
            "FROM ingest.ingestion_batches ORDER BY id"
        ).fetchall()


def quarantine(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT line_no, reason, detail, raw_payload, payload_encoding FROM ingest.quarantine "
            "ORDER BY batch_id, line_no"
        ).fetchall()


def expected_cost(input_tokens: int, output_tokens: int, price: tuple[Decimal, Decimal]) -> Decimal:
    micro = input_tokens * price[0] + output_tokens * price[1]
    return (micro / Decimal(1_000_000)).quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)


def new_uuid() -> str:
    return str(uuid.uuid4())
