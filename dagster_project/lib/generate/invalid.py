"""Invalid events: what ingestion must quarantine, one kind per row, with a known count per kind.

Each invalid row starts as a valid one and breaks in exactly one way, so the reason is
unambiguous (an event from an unknown organization names no user or key). Every kind can be
written in every format with the same logical content, except `malformed_json` (NDJSON only);
`unpriced_category` and `exceeds_context_window` need envelope 1.1's categories.
Invalid rows are a small share, so plain Python over a list of dicts is fast enough here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from dagster_project.lib.generate.catalog import Catalog, Model, Org
from dagster_project.lib.generate.traffic import (
    ENVELOPE_1_0,
    INVALID,
    NEW_COUNTS,
    NULLABLE,
    OPTIONAL_1_1,
)
from dagster_project.lib.pricing.categories import CATEGORIES, SERVICE_TIERS

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
    "unpriced_category": "a count in a category the model's price does not offer in the "
    "event's service tier, e.g. reasoning tokens on a model without a reasoning rate (1.1 only)",
    "exceeds_context_window": "the input categories add up to more than the model's context "
    "window (1.1 only)",
}
NDJSON_ONLY = frozenset({"malformed_json"})
ENVELOPE_1_1_ONLY = frozenset({"unpriced_category", "exceeds_context_window"})
# The reason ingestion quarantines each kind with (lib/ingest/reasons.py).
EXPECTED_REASONS = {
    "bad_type": "invalid_value",
    "negative_tokens": "invalid_value",
    "unknown_org": "unknown_organization",
    "unknown_model": "unknown_model",
    "foreign_api_key": "api_key_not_in_organization",
    "foreign_user": "user_not_in_organization",
    "future_timestamp": "occurred_in_future",
    "missing_field": "missing_field",
    "malformed_json": "malformed_record",
    "unpriced_category": "unpriced_category",
    "exceeds_context_window": "exceeds_context_window",
}
REQUIRED = ("event_id", "organization_id", "model", "operation", "occurred_at",
            "input_tokens", "output_tokens", "latency_ms", "status")  # fmt: skip
# Plausible names a client might send that the registry does not have.
UNKNOWN_MODELS = ("openai/gpt-5-preview@2025-01-01", "meta/llama-3.1-405b-instruct@latest",
                  "anthropic/claude-3-opus@20240229", "openai/text-embedding-ada-002@2")  # fmt: skip


def available_kinds(
    catalog: Catalog,
    orgs: Sequence[Org],
    fmt: str,
    envelope: str = "1.1",
    models: Sequence[Model] = (),
    window: tuple[datetime, datetime] | None = None,
) -> list[str]:
    """The kinds these seeds can produce for these organizations and models in this format and
    envelope."""
    kinds = [k for k in KINDS if fmt == "ndjson" or k not in NDJSON_ONLY]
    if envelope == "1.0" or not models or window is None:
        kinds = [k for k in kinds if k not in ENVELOPE_1_1_ONLY]
    corruptor = Corruptor(catalog, orgs, (), envelope, models, window)
    if "unpriced_category" in kinds and not corruptor.fallback:
        kinds.remove("unpriced_category")  # every category priced: nothing to break
    if not all(corruptor.foreign_keys[o.id] for o in orgs):
        kinds.remove("foreign_api_key")
    if not all(corruptor.foreign_users[o.id] for o in orgs):
        kinds.remove("foreign_user")
    if not corruptor.unknown_models:
        kinds.remove("unknown_model")
    return kinds


class Corruptor:
    def __init__(
        self,
        catalog: Catalog,
        orgs: Sequence[Org],
        kinds: Sequence[str],
        envelope: str = "1.1",
        models: Sequence[Model] = (),
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        self.kinds = tuple(kinds)
        self.envelope = envelope
        self.context = {m.ref: m.context_window for m in models}
        # Per (model, tier): the count fields no applicable price version offers, those that
        # do not count as input first (adding them cannot push the input over the window).
        self.unpriced: dict[tuple[str, str], list[str]] = {}
        for m in models:
            for tier in SERVICE_TIERS:
                if window is None or not m.priced_throughout(*window, tier):
                    continue
                fields = [
                    c.count
                    for c, none in zip(CATEGORIES, m.unpriced(tier, *window), strict=True)
                    if none
                ]
                self.unpriced[m.ref, tier] = sorted(fields, key=lambda f: f in _INPUT_COUNTS)
        # Standard-tier models with something unpriced: for a row whose model prices everything
        self.fallback = [m.ref for m in models if self.unpriced.get((m.ref, "standard"))]
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
        broken = pa.Table.from_pylist(records, schema=table.schema)
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
        r["_raw"] = json.dumps(self._event(r), separators=(",", ":"))  # NDJSON: the key is absent

    def _malformed_json(self, r: dict, a: int, b: int, raw: bytes) -> None:
        if a % 2:
            r["_raw"] = repr(self._event(r))  # someone logged the Python dict: single quotes, None
        else:
            line = json.dumps(self._event(r), separators=(",", ":"))
            r["_raw"] = line[: 1 + b % (len(line) - 2)]  # cut short: never valid JSON

    def _unpriced_category(self, r: dict, a: int, b: int, raw: bytes) -> None:
        tier = r["service_tier"] or "standard"
        fields = self.unpriced.get((r["model"], tier))
        if not fields:  # the model prices everything in this tier: call one that does not
            model = self.fallback[a % len(self.fallback)]
            prompt = _total_input(r)
            r.update({f: 0 for f in NEW_COUNTS}, model=model, service_tier=None)
            r["input_tokens"] = min(prompt, self.context[model] // 2)
            fields = self.unpriced[model, "standard"]
        outside = [f for f in fields if f not in _INPUT_COUNTS]
        field = (outside or fields)[b % len(outside or fields)]
        per_call = field in ("web_search_calls", "tool_calls")
        r[field] = 1 + a % 3 if per_call else 1 + a % 2_000
        over = _total_input(r) - self.context[r["model"]]
        if over > 0:  # an input category: make room for it (only this reason may apply)
            r[field] = max(1, r[field] - over)
            r["input_tokens"] = max(
                0, r["input_tokens"] - max(0, _total_input(r) - self.context[r["model"]])
            )

    def _exceeds_context_window(self, r: dict, a: int, b: int, raw: bytes) -> None:
        others = _total_input(r) - r["input_tokens"]
        r["input_tokens"] = max(0, self.context[r["model"]] - others) + 1 + a % 4_096

    def _event(self, r: dict) -> dict:
        """The envelope as NDJSON writes it: null required fields and null metadata left out; in
        1.1 the new fields after error_code, left out when 0 or null."""
        event = {
            f: r[f]
            for f in ENVELOPE_1_0[:-1]
            if r[f] is not None or (f in NULLABLE and f != "metadata")
        }
        if self.envelope != "1.0":
            event.update({f: r[f] for f in OPTIONAL_1_1 if r[f]})
        if r["metadata"] is not None:
            event["metadata"] = json.loads(r["metadata"])
        return event


_INPUT_COUNTS = frozenset(c.count for c in CATEGORIES if c.is_input)


def _total_input(r: dict[str, Any]) -> int:
    return sum(r[f] for f in _INPUT_COUNTS)
