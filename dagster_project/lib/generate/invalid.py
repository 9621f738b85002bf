"""Invalid events: what ingestion must quarantine, one kind per row, with a known count per kind.

Each invalid row starts as a valid one and breaks in exactly one way, so the reason is
unambiguous (an event from an unknown organization names no user or key). Every kind can be
written in every format with the same logical content, except `malformed_json` (NDJSON only).
Invalid rows are a small share, so plain Python over a list of dicts is fast enough here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from dagster_project.lib.generate.catalog import Catalog, Org
from dagster_project.lib.generate.traffic import ENVELOPE, INVALID, NULLABLE, SCHEMA

KINDS = {
    "bad_type": "a value of the wrong type or shape: occurred_at without offset or as epoch "
    "seconds, a user_id or api_key_id that is not a uuid",
    "negative_tokens": "input_tokens or output_tokens below 0",
    "unknown_org": "organization_id is no organization's (user_id and api_key_id are null)",
    "unknown_model": "model is not in the registry",
    "foreign_api_key": "api_key_id is another organization's key",
    "foreign_user": "user_id is not a member of the organization",
    "future_timestamp": "occurred_at 10 to 20 years ahead (a broken client clock)",
    "missing_field": "a required field is absent (NDJSON) or empty (CSV, Parquet)",
    "malformed_json": "a line that is not JSON: truncated, or a Python dict repr (NDJSON only)",
}
NDJSON_ONLY = frozenset({"malformed_json"})
REQUIRED = ("event_id", "organization_id", "model", "operation", "occurred_at",
            "input_tokens", "output_tokens", "latency_ms", "status")  # fmt: skip
# Plausible names a client might send that the registry does not have.
UNKNOWN_MODELS = ("openai/gpt-5-preview@2025-01-01", "meta/llama-3.1-405b-instruct@latest",
                  "anthropic/claude-3-opus@20240229", "openai/text-embedding-ada-002@2")  # fmt: skip


def available_kinds(catalog: Catalog, orgs: Sequence[Org], fmt: str) -> list[str]:
    """The kinds these seeds can produce for these organizations in this format."""
    kinds = [k for k in KINDS if fmt == "ndjson" or k not in NDJSON_ONLY]
    corruptor = Corruptor(catalog, orgs, ())
    if not all(corruptor.foreign_keys[o.id] for o in orgs):
        kinds.remove("foreign_api_key")
    if not all(corruptor.foreign_users[o.id] for o in orgs):
        kinds.remove("foreign_user")
    if not corruptor.unknown_models:
        kinds.remove("unknown_model")
    return kinds


class Corruptor:
    def __init__(self, catalog: Catalog, orgs: Sequence[Org], kinds: Sequence[str]) -> None:
        self.kinds = tuple(kinds)
        self.foreign_keys = {
            o.id: [k for other in catalog.orgs if other.id != o.id for k in other.api_key_ids]
            for o in orgs
        }
        self.foreign_users = {
            o.id: [u for u in catalog.user_ids if u not in o.member_ids] for o in orgs
        }
        refs = {m.ref for m in catalog.models}
        self.unknown_models = [m for m in UNKNOWN_MODELS if m not in refs]

    def apply(self, rng: np.random.Generator, table: pa.Table, rows: slice) -> pa.Table:
        """`table` with rows[start:stop] broken, one kind each (drawn uniformly)."""
        count = rows.stop - rows.start
        kinds = rng.integers(0, len(self.kinds), count)
        picks = rng.integers(0, 2**31, (count, 2))
        random_bytes = rng.integers(0, 256, (count, 16), dtype=np.uint8)
        records = table.slice(rows.start, count).to_pylist()
        for record, kind, (a, b), raw in zip(records, kinds, picks, random_bytes, strict=True):
            getattr(self, f"_{self.kinds[kind]}")(record, int(a), int(b), raw.tobytes())
            record["_class"] = INVALID + int(kind)
        broken = pa.Table.from_pylist(records, schema=SCHEMA)
        return pa.concat_tables([table.slice(0, rows.start), broken, table.slice(rows.stop)])

    def _bad_type(self, r: dict, a: int, b: int, raw: bytes) -> None:
        variant = a % 4
        if variant == 0:
            r["occurred_at"] = r["occurred_at"][:23]  # local time, offset dropped
        elif variant == 1:
            r["occurred_at"] = str(int(datetime.fromisoformat(r["occurred_at"]).timestamp()))
        elif variant == 2:
            r["user_id"] = f"usr_{b % 100_000}"
        else:
            r["api_key_id"] = f"plat_test_{raw.hex()[:4]}"  # a key's display prefix, not its id

    def _negative_tokens(self, r: dict, a: int, b: int, raw: bytes) -> None:
        field = ("input_tokens", "output_tokens")[a % 2]
        r[field] = -max(r[field], 1)

    def _unknown_org(self, r: dict, a: int, b: int, raw: bytes) -> None:
        r.update(
            organization_id=str(uuid.UUID(bytes=raw, version=4)), user_id=None, api_key_id=None
        )

    def _unknown_model(self, r: dict, a: int, b: int, raw: bytes) -> None:
        r["model"] = self.unknown_models[a % len(self.unknown_models)]

    def _foreign_api_key(self, r: dict, a: int, b: int, raw: bytes) -> None:
        keys = self.foreign_keys[r["organization_id"]]
        r["api_key_id"] = keys[a % len(keys)]

    def _foreign_user(self, r: dict, a: int, b: int, raw: bytes) -> None:
        users = self.foreign_users[r["organization_id"]]
        r["user_id"] = users[a % len(users)]

    def _future_timestamp(self, r: dict, a: int, b: int, raw: bytes) -> None:
        text = r["occurred_at"]
        ahead = datetime.fromisoformat(text) + timedelta(
            days=3650 + a % 3650, milliseconds=b % 86_400_000
        )
        future = ahead.isoformat(timespec="milliseconds")
        r["occurred_at"] = future.replace("+00:00", "Z") if text.endswith("Z") else future

    def _missing_field(self, r: dict, a: int, b: int, raw: bytes) -> None:
        r[REQUIRED[a % len(REQUIRED)]] = None
        r["_raw"] = json.dumps(_event(r), separators=(",", ":"))  # NDJSON: the key is absent

    def _malformed_json(self, r: dict, a: int, b: int, raw: bytes) -> None:
        if a % 2:
            r["_raw"] = repr(_event(r))  # someone logged the Python dict: single quotes, None
        else:
            line = json.dumps(_event(r), separators=(",", ":"))
            r["_raw"] = line[: 1 + b % (len(line) - 2)]  # cut short: never valid JSON


def _event(r: dict) -> dict:
    """The envelope as NDJSON writes it: null required fields and null metadata left out."""
    event = {f: r[f] for f in ENVELOPE if r[f] is not None or (f in NULLABLE and f != "metadata")}
    if event.get("metadata") is not None:
        event["metadata"] = json.loads(event["metadata"])
    return event
