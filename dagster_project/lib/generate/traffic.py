"""Vectorised blocks of usage events: numpy draws, pyarrow strings, no per-row Python for valid rows.

A block is a slice of one UTC hour with its own random generator, so its rows depend only on
(seed, hour, block, options): never on chunking or file layout. Every row of a block has one
class: on time, late, duplicate (exact resend or retry) or invalid (lib/generate/invalid.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dagster_project.lib.generate.catalog import Model, Org
from dagster_project.lib.pricing.categories import CATEGORIES, NEW_COUNTS, SERVICE_TIERS

# Envelope 1.0: what old files hold (and still ingest). Envelope 1.1 adds the token categories
# after output_tokens, the service tier and the provider's own cost (docs/schemas, lib/pricing).
ENVELOPE_1_0 = (
    "event_id", "organization_id", "user_id", "api_key_id", "model", "operation", "occurred_at",
    "input_tokens", "output_tokens", "latency_ms", "status", "error_code", "metadata",
)  # fmt: skip
ENVELOPE = (
    ENVELOPE_1_0[:9] + NEW_COUNTS + ENVELOPE_1_0[9:12] + ("service_tier", "provider_cost_usd", "metadata")
)  # fmt: skip
ENVELOPES = {"1.0": ENVELOPE_1_0, "1.1": ENVELOPE}
# In NDJSON a 1.1 event leaves these out when 0 / null (absent = 0, standard, no provider cost),
# so an event with nothing new is byte for byte a 1.0 line.
OPTIONAL_1_1 = NEW_COUNTS + ("service_tier", "provider_cost_usd")
INT_FIELDS = frozenset({"input_tokens", "output_tokens", "latency_ms", *NEW_COUNTS})
NULLABLE = frozenset(
    {"user_id", "api_key_id", "error_code", "metadata", "service_tier", "provider_cost_usd"}
)
# metadata is JSON text in every format (an object in NDJSON); `_class`, `_raw` and the costs
# (in units of 1e-10 USD, numeric(18,10)'s) are private: `_cost` is what the price gives (the
# sum of the category costs), `_provider_cost` the provider_cost_usd sent (null = none).
SCHEMA = pa.schema(
    [pa.field(f, pa.int64() if f in INT_FIELDS else pa.string()) for f in ENVELOPE]
    + [pa.field("_class", pa.int8()), pa.field("_raw", pa.string()),
       pa.field("_cost", pa.int64()), pa.field("_provider_cost", pa.int64())]
)  # fmt: skip
# A 1.0 block's rows: the 1.0 fields and the private columns but `_provider_cost` (never sent).
SCHEMAS = {
    "1.0": pa.schema([f for f in SCHEMA if f.name in ENVELOPE_1_0 or f.name in ("_class", "_raw", "_cost")]),
    "1.1": SCHEMA,
}  # fmt: skip

# Row classes (`_class`): invalid kind k is INVALID + k.
ON_TIME, LATE, DUPLICATE_EXACT, DUPLICATE_RETRY, INVALID = 0, 1, 2, 3, 8
HOUR_MS, DAY_MS = 3_600_000, 86_400_000

OPERATIONS = ("chat.completions", "responses.create", "embeddings")
CHAT, RESPONSES, EMBEDDINGS = range(3)
RESPONSES_SHARE = 0.15  # chat traffic already on the newer Responses API

# Error code, share of errors, input tokens still billed, latency profile. Rate limits dominate
# real error logs; a timeout or a content filter stops a request after its prompt was processed.
ERRORS = (
    ("rate_limit_exceeded", 0.40, False, "fast"),
    ("server_error", 0.14, True, "prefill"),
    ("timeout", 0.10, True, "timeout"),
    ("context_length_exceeded", 0.10, False, "fast"),
    ("invalid_request_error", 0.10, False, "fast"),
    ("content_filter", 0.08, True, "prefill"),
    ("service_unavailable", 0.08, False, "fast"),
)
ERROR_P = np.array([e[1] for e in ERRORS]) / sum(e[1] for e in ERRORS)
ERROR_BILLS_INPUT = np.array([e[2] for e in ERRORS])
ERROR_PROFILE = np.array([("fast", "prefill", "timeout").index(e[3]) for e in ERRORS])
GATEWAY_TIMEOUTS_MS = np.array([30_000, 60_000, 120_000])  # common client/proxy timeouts

API_KEY_SHARE = (
    0.85  # requests from backends with a key; the rest from the playground/UI (user only)
)
USER_WITH_KEY_SHARE = 0.35  # keyed requests that also name the member on whose behalf they run
METADATA_SHARE = 0.7  # events that carry a metadata object
# Token medians and log-spreads: chat prompts carry system prompt + history (long RAG tail),
# completions are short; embedding inputs are chunks of a few hundred tokens.
CHAT_INPUT, CHAT_OUTPUT, EMBED_INPUT = (800, 1.1), (220, 0.9), (300, 1.0)
MAX_OUTPUT_TOKENS, MAX_EMBED_INPUT = 8192, 8191
FAST_MODEL_TAGS = ("mini", "haiku", "flash", "nano", "lite", "small")
MS_PER_OUTPUT_TOKEN = {True: 7.0, False: 18.0}  # decode speed: small vs large models
# Retries: a client retries after a backoff (median 2 s, up to 2 min) and stamps the retry
# with a new occurred_at; an at-least-once queue resends the same bytes.
RETRY_SHARE = 0.6
BACKOFF_MEDIAN_MS, BACKOFF_MIN_MS, BACKOFF_MAX_MS = 2_000, 100, 120_000

# occurred_at offsets: most SDKs send UTC ("Z"), some "+00:00", and some a local offset (one
# per organization), all the same instant: ingestion must normalise them.
OFFSETS = (("Z", 0), ("+00:00", 0), ("-05:00", -300), ("+01:00", 60), ("+05:30", 330),
           ("-08:00", -480), ("+09:00", 540))  # fmt: skip
UTC_Z_SHARE, UTC_NUMERIC_SHARE = 0.7, 0.1
OFFSET_SUFFIX = pa.array([s for s, _ in OFFSETS])
OFFSET_MS = np.array([m * 60_000 for _, m in OFFSETS])

SDKS = ("openai-python/1.54.3", "openai-node/4.71.0", "anthropic-sdk-python/0.39.0",
        "langchain/0.3.7", "curl/8.5.0")  # fmt: skip
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")
FEATURES = ("chat-assistant", "search", "summarize", "code-review", "support-bot", "batch-eval")
METADATA = pa.array(
    [
        f'{{"sdk":"{s}","region":"{r}","feature":"{f}"}}'
        for s in SDKS
        for r in REGIONS
        for f in FEATURES
    ]
)

# Share of traffic per UTC hour: EU business hours from 07, the US East coast joins at 13, the
# EU/US overlap (13-17) peaks, the US West coast keeps evenings up; 03-05 (APAC only) is the
# trough, about a quarter of the peak. Weekends carry about half a weekday (B2B API traffic).
DIURNAL_UTC = np.array([
    0.62, 0.52, 0.45, 0.40, 0.38, 0.42, 0.55, 0.75, 0.95, 1.10, 1.20, 1.25,
    1.30, 1.45, 1.60, 1.70, 1.68, 1.55, 1.40, 1.25, 1.12, 0.98, 0.85, 0.72,
])  # fmt: skip
DIURNAL_UTC = DIURNAL_UTC / DIURNAL_UTC.mean()
WEEKEND_FACTOR = 0.5
WEEK_MEAN = (5 + 2 * WEEKEND_FACTOR) / 7

CROCKFORD = np.frombuffer(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ", np.uint8)
EVENT_ID_PREFIX = np.frombuffer(b"evt_", np.uint8)

# Envelope 1.1: how calls split into the token categories (lib/pricing/categories.py). Only
# categories the model's price offers in the call's service tier are drawn (Pools.offered).
CAT = {c.key: i for i, c in enumerate(CATEGORIES)}
COUNT_COLUMN = {c.count: i for i, c in enumerate(CATEGORIES)}
IS_INPUT = np.array([c.is_input for c in CATEGORIES])
PER_CALL = np.array([c.unit == 1_000 for c in CATEGORIES])  # rates per 1,000 calls
# Prompt caching: a caching tenant reads a share of each prompt from the cache (Beta around its
# ratio, in 128-token steps as OpenAI reports it); calls to a model that prices cache writes
# (Anthropic's) also write part of the uncached rest, mostly with the 5-minute lifetime.
CACHE_STEP, CACHE_CONCENTRATION = 128, 6.0
CACHE_WRITE_CALL_SHARE, CACHE_WRITE_SPAN = 0.3, (0.3, 0.9)
# Reasoning models think before they answer: hidden reasoning tokens, billed apart from the
# visible output; about one call in ten uses minimal effort (no reasoning tokens).
REASONING, REASONING_MINIMAL_SHARE, MAX_REASONING = (1_200, 1.0), 0.1, 32_768
# Server-side tools billed per call, where priced: (share of successful calls, mean extra calls).
PER_CALL_TOOLS = {"web_search": (0.04, 0.6), "tool_call": (0.06, 1.0)}
# Long-document calls that cross a context tier (a price for calls above N input tokens).
LONG_CONTEXT_SHARE = 0.004
# provider_cost_usd: some gateways report the provider's cost; it equals what the price gives,
# except now and then (a rounding or billing difference of up to 2 %).
PROVIDER_COST_SHARE, PROVIDER_DISCREPANCY_SHARE, PROVIDER_DISCREPANCY_MAX = 0.25, 0.02, 0.02
TIER_NAMES = pa.array(list(SERVICE_TIERS))
ERROR_CODES = pa.array([e[0] for e in ERRORS])
STANDARD, BATCH = SERVICE_TIERS.index("standard"), SERVICE_TIERS.index("batch")


@dataclass(frozen=True)
class OrgProfile:
    """How a tenant uses the 1.1 features: the share of its prompt tokens read from the cache
    (on models that price cache reads), the share of its cache writes with the 1-hour
    lifetime, the share of its requests sent to the batch tier (where the model has a batch
    price), and whether its SDK names the tier on standard requests too."""

    cache_read_ratio: float
    cache_write_1h_share: float
    batch_share: float
    explicit_tier: bool


# Assigned by the organization's position in the seeds (PROFILES[i % 3]): the same tenant gets
# the same profile whatever --orgs selects. A heavy prompt-caching agent platform, a tenant that
# never caches but sends a quarter of its work to the batch API, and a light mix.
PROFILES = (
    OrgProfile(cache_read_ratio=0.6, cache_write_1h_share=0.2, batch_share=0.0, explicit_tier=True),
    OrgProfile(cache_read_ratio=0.0, cache_write_1h_share=0.0, batch_share=0.25, explicit_tier=False),
    OrgProfile(cache_read_ratio=0.25, cache_write_1h_share=0.05, batch_share=0.1, explicit_tier=False),
)  # fmt: skip


def hour_weights(start: date, days: int, diurnal: bool) -> np.ndarray:
    """Relative traffic per hour of the window, mean 1 over a whole week (flat without diurnal)."""
    if not diurnal:
        return np.ones(days * 24)
    factors = [
        WEEKEND_FACTOR if (start + timedelta(d)).weekday() >= 5 else 1.0 for d in range(days)
    ]
    return np.concatenate([DIURNAL_UTC * f / WEEK_MEAN for f in factors])


@dataclass(frozen=True)
class Mix:
    """Shares of a block's rows per class (late, duplicate, invalid) and of valid rows in error."""

    error_rate: float
    late: float
    duplicate: float
    invalid: float
    max_late_ms: int


class Pools:
    """What rows are drawn from: the selected organizations with their callers and keys, the
    models with their weights. Flat arrays with per-organization start/count, so a user or key
    of a drawn organization is one vectorised lookup."""

    def __init__(
        self,
        orgs: Sequence[Org],
        org_weights: np.ndarray,
        models: Sequence[Model],
        model_weights: np.ndarray,
        window: tuple[datetime, datetime] | None = None,
        profiles: Sequence[OrgProfile] | None = None,
    ) -> None:
        self.org_ids = pa.array([o.id for o in orgs])
        self.org_p = org_weights / org_weights.sum()
        # Each organization's local offset (after "Z" and "+00:00"), stable across runs.
        self.org_offset = np.array(
            [2 + zlib.crc32(o.slug.encode()) % (len(OFFSETS) - 2) for o in orgs]
        )
        self.user_ids, self.user_start, self.user_count = _flatten([o.caller_ids for o in orgs])
        self.key_ids, self.key_start, self.key_count = _flatten([o.api_key_ids for o in orgs])
        self.model_refs = pa.array([m.ref for m in models])
        self.model_p = model_weights / model_weights.sum()
        self.model_embedding = np.array([m.embedding for m in models])
        self.model_context = np.array([m.context_window for m in models], dtype=np.int64)
        self.model_ms_per_token = np.array(
            [MS_PER_OUTPUT_TOKEN[any(t in m.name for t in FAST_MODEL_TAGS)] for m in models]
        )
        profiles = profiles or [PROFILES[i % len(PROFILES)] for i in range(len(orgs))]
        self.org_cache = np.array([p.cache_read_ratio for p in profiles])
        self.org_write_1h = np.array([p.cache_write_1h_share for p in profiles])
        self.org_batch = np.array([p.batch_share for p in profiles])
        self.org_explicit_tier = np.array([p.explicit_tier for p in profiles])
        if window is not None:
            self._prices(models, *window)

    def _prices(self, models: Sequence[Model], begin: datetime, end: datetime) -> None:
        """What envelope 1.1 draws from, over the window the events' occurred_at can fall in:
        per (model, tier) the categories every applicable price version offers, the largest
        context tier, and every version's rates for exact costs."""
        n_models, n_tiers, n_cats = len(models), len(SERVICE_TIERS), len(CATEGORIES)
        self.offered = np.zeros((n_models, n_tiers, n_cats), bool)
        self.long_above = np.zeros((n_models, n_tiers), np.int64)
        rows: list[tuple[int, int, int, int, int, list[int]]] = []
        for m, model in enumerate(models):
            for t, tier in enumerate(SERVICE_TIERS):
                self.offered[m, t] = model.offered(tier, begin, end)
                if not self.offered[m, t].any():
                    continue
                above = [p.above_input_tokens for p in model.rows_over(tier, begin, end)]
                self.long_above[m, t] = max([a for a in above if a < model.context_window] or [0])
                for p in model.rows_over(tier, begin, end):
                    rows.append((
                        m, t, p.above_input_tokens, _ms(p.effective_from),
                        _ms(p.effective_to) if p.effective_to else np.iinfo(np.int64).max,
                        [_micro(r) for r in p.rates],
                    ))  # fmt: skip
        rows.sort(key=lambda r: r[2])  # by context tier: the last match is the largest
        self.price_model = np.array([r[0] for r in rows], np.int64)
        self.price_tier = np.array([r[1] for r in rows], np.int64)
        self.price_above = np.array([r[2] for r in rows], np.int64)
        self.price_from = np.array([r[3] for r in rows], np.int64)
        self.price_to = np.array([r[4] for r in rows], np.int64)
        self.price_rates = np.array([r[5] for r in rows], np.int64).reshape(len(rows), n_cats)
        # (model, tier) with a single version over the window: its row, looked up directly;
        # -1 where there are several (a price change, a context tier) or none.
        self.price_single = np.full((n_models, n_tiers), -1)
        versions = np.zeros((n_models, n_tiers), np.int64)
        np.add.at(versions, (self.price_model, self.price_tier), 1)
        for r in range(len(rows)):
            if versions[self.price_model[r], self.price_tier[r]] == 1:
                self.price_single[self.price_model[r], self.price_tier[r]] = r
        self.price_several = np.unique(
            self.price_model[versions[self.price_model, self.price_tier] > 1]
        )


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _micro(rate: object) -> int:
    """A numeric(12,6) rate as an integer of millionths; -1 = not offered."""
    if rate is None:
        return -1
    scaled = rate * 10**6  # type: ignore[operator]
    if scaled != int(scaled):
        raise ValueError(f"a rate with more than 6 decimals: {rate}")
    return int(scaled)


def _flatten(groups: Sequence[Sequence[str]]) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    count = np.array([len(g) for g in groups], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    return pa.array([x for g in groups for x in g], pa.string()), start, count


def make_block(
    rng: np.random.Generator,
    pools: Pools,
    mix: Mix,
    n: int,
    start_ms: int,
    span_ms: int,
    day_start_ms: int,
    extra: np.random.Generator | None = None,
) -> tuple[pa.Table, np.ndarray, slice]:
    """n rows arriving in [start_ms, start_ms + span_ms), not ordered yet.

    Returns the rows, their arrival times (the caller orders by them) and the slice of rows to
    make invalid (lib/generate/invalid.py). Late rows occurred on a UTC day before
    `day_start_ms`, at most `mix.max_late_ms` before they arrived.

    `extra` draws what envelope 1.1 adds (categories, tier, provider cost) from its own stream,
    so `rng` draws the same as for envelope 1.0, whose rows (extra=None) stay as they were.
    """
    on_time = max(0.0, 1.0 - mix.invalid - mix.duplicate - mix.late)  # no -1e-17 from rounding
    k_invalid, k_dup, k_late, k_on = rng.multinomial(
        n, [mix.invalid, mix.duplicate, mix.late, on_time]
    )
    if k_on + k_late == 0:  # a resend needs an original in the block
        k_on, k_dup = k_dup, 0
    n_valid = k_on + k_late
    fresh = n_valid + k_invalid
    arrival = start_ms + rng.integers(0, span_ms, fresh)
    occurred = arrival.copy()
    earliest = arrival[k_on:n_valid] - mix.max_late_ms
    occurred[k_on:n_valid] = earliest + (rng.random(k_late) * (day_start_ms - earliest)).astype(
        np.int64
    )
    req = _draw_requests(rng, pools, mix.error_rate, fresh)
    cats = _draw_categories(extra, pools, req, occurred) if extra is not None else _plain(req)
    cost = _costs(pools, req["model"], cats["tier"], occurred, cats["counts"])
    provider = _provider_cost(extra, cost) if extra is not None else np.full(fresh, -1)
    event_ids = _event_ids(occurred, rng.integers(0, 32, (fresh, 16), dtype=np.uint8))

    original = rng.integers(0, max(n_valid, 1), k_dup)
    retry = rng.random(k_dup) < RETRY_SHARE
    backoff = np.clip(
        rng.lognormal(np.log(BACKOFF_MEDIAN_MS), 1.0, k_dup), BACKOFF_MIN_MS, BACKOFF_MAX_MS
    )
    backoff = backoff.astype(np.int64)

    src = np.concatenate([np.arange(fresh), original])
    occurred_all = np.concatenate([occurred, occurred[original] + backoff * retry])
    arrival_all = np.concatenate([arrival, arrival[original] + backoff])
    classes = np.concatenate(
        [
            np.repeat(np.array([ON_TIME, LATE, INVALID], np.int8), [k_on, k_late, k_invalid]),
            np.where(retry, DUPLICATE_RETRY, DUPLICATE_EXACT).astype(np.int8),
        ]
    )
    s = pa.array(src)
    has_user, has_key, has_error, has_meta = (
        req[k][src] >= 0 for k in ("user", "key", "error", "meta")
    )
    counts = cats["counts"][src]
    columns = {
        "event_id": event_ids.take(s),
        "organization_id": pools.org_ids.take(pa.array(req["org"][src])),
        "user_id": pools.user_ids.take(pa.array(req["user"][src], mask=~has_user)),
        "api_key_id": pools.key_ids.take(pa.array(req["key"][src], mask=~has_key)),
        "model": pools.model_refs.take(pa.array(req["model"][src])),
        "operation": pa.array(OPERATIONS).take(pa.array(req["operation"][src])),
        "occurred_at": _rfc3339(occurred_all, req["offset"][src]),
        "input_tokens": pa.array(counts[:, CAT["input"]]),
        "output_tokens": pa.array(counts[:, CAT["output"]]),
        "latency_ms": pa.array(req["latency_ms"][src]),
        "status": pa.array(["success", "error"]).take(pa.array(has_error.astype(np.int8))),
        "error_code": ERROR_CODES.take(pa.array(req["error"][src], mask=~has_error)),
        "metadata": METADATA.take(pa.array(req["meta"][src], mask=~has_meta)),
        "_class": pa.array(classes, pa.int8()),
        "_raw": pa.nulls(len(src), pa.string()),
        "_cost": pa.array(cost[src]),
    }
    if extra is not None:  # a 1.0 block does not carry what it never writes
        tier = cats["tier"][src]
        named_tier = (tier != STANDARD) | cats["explicit_tier"][src]
        sent = provider >= 0
        columns |= {c: pa.array(counts[:, COUNT_COLUMN[c]]) for c in NEW_COUNTS}
        columns["service_tier"] = TIER_NAMES.take(pa.array(tier, mask=~named_tier))
        columns["provider_cost_usd"] = _usd(provider, sent).take(s)
        columns["_provider_cost"] = pa.array(provider[src], mask=~sent[src])
    schema = SCHEMAS["1.0" if extra is None else "1.1"]
    table = pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
    return table, arrival_all, slice(n_valid, fresh)


def _draw_requests(
    rng: np.random.Generator, p: Pools, error_rate: float, n: int
) -> dict[str, np.ndarray]:
    """Who called which model, tokens, latency, outcome: one array per field, -1 = null."""
    org = rng.choice(len(p.org_p), n, p=p.org_p)
    via_key = (rng.random(n) < API_KEY_SHARE) & (p.key_count[org] > 0)
    key = np.where(
        via_key, p.key_start[org] + (rng.random(n) * p.key_count[org]).astype(np.int64), -1
    )
    named_user = np.where(via_key, rng.random(n) < USER_WITH_KEY_SHARE, True) & (
        p.user_count[org] > 0
    )
    user = np.where(
        named_user, p.user_start[org] + (rng.random(n) * p.user_count[org]).astype(np.int64), -1
    )

    model = rng.choice(len(p.model_p), n, p=p.model_p)
    embedding = p.model_embedding[model]
    operation = np.where(
        embedding, EMBEDDINGS, np.where(rng.random(n) < RESPONSES_SHARE, RESPONSES, CHAT)
    )

    output = np.where(
        embedding,
        0,
        np.clip(rng.lognormal(np.log(CHAT_OUTPUT[0]), CHAT_OUTPUT[1], n), 1, MAX_OUTPUT_TOKENS),
    )
    output = output.astype(np.int64)
    chat_in = rng.lognormal(np.log(CHAT_INPUT[0]), CHAT_INPUT[1], n)
    embed_in = np.minimum(rng.lognormal(np.log(EMBED_INPUT[0]), EMBED_INPUT[1], n), MAX_EMBED_INPUT)
    # A prompt plus its completion fit the model's context window.
    tokens_in = np.clip(np.where(embedding, embed_in, chat_in), 1, p.model_context[model] - output)
    tokens_in = tokens_in.astype(np.int64)
    # Chat: time to first token (queueing + prefill at ~50k tokens/s), then decoding.
    prefill = rng.lognormal(np.log(350), 0.5, n) + tokens_in * 0.02
    decode = output * p.model_ms_per_token[model] * rng.lognormal(0.0, 0.25, n)
    embed_latency = rng.lognormal(np.log(60), 0.4, n) + tokens_in * 0.01
    latency = np.where(embedding, embed_latency, prefill + decode)

    failed = rng.random(n) < error_rate
    code = rng.choice(len(ERRORS), n, p=ERROR_P)
    profile = ERROR_PROFILE[code]
    error_latency = np.select(
        [profile == 0, profile == 1],
        [rng.lognormal(np.log(40), 0.6, n), prefill],
        GATEWAY_TIMEOUTS_MS[rng.integers(0, len(GATEWAY_TIMEOUTS_MS), n)] + rng.integers(0, 250, n),
    )
    latency = np.where(failed, error_latency, latency).astype(np.int64)
    output = np.where(failed, 0, output)
    tokens_in = np.where(failed & ~ERROR_BILLS_INPUT[code], 0, tokens_in)

    meta = np.where(rng.random(n) < METADATA_SHARE, rng.integers(0, len(METADATA), n), -1)
    u = rng.random(n)
    offset = np.where(
        u < UTC_Z_SHARE, 0, np.where(u < UTC_Z_SHARE + UTC_NUMERIC_SHARE, 1, p.org_offset[org])
    )
    return {
        "org": org,
        "user": user,
        "key": key,
        "model": model,
        "operation": operation,
        "input_tokens": tokens_in,
        "output_tokens": output,
        "latency_ms": latency,
        "error": np.where(failed, code, -1),
        "meta": meta,
        "offset": offset,
    }


def _plain(req: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Envelope 1.0: uncached input and visible output only, standard tier."""
    n = len(req["input_tokens"])
    counts = np.zeros((n, len(CATEGORIES)), np.int64)
    counts[:, CAT["input"]] = req["input_tokens"]
    counts[:, CAT["output"]] = req["output_tokens"]
    return {"counts": counts, "tier": np.full(n, STANDARD), "explicit_tier": np.zeros(n, bool)}


def _draw_categories(
    rng: np.random.Generator, p: Pools, req: dict[str, np.ndarray], occurred: np.ndarray
) -> dict[str, np.ndarray]:
    """Envelope 1.1: the service tier, then the request's tokens split into categories, each
    only where the model's price offers it in that tier (p.offered). The prompt (total input)
    and visible output are _draw_requests's, except the few long-document calls; the input
    stays within the context window (with the output and reasoning)."""
    n = len(occurred)
    org, model = req["org"], req["model"]
    prompt, output = req["input_tokens"].copy(), req["output_tokens"]
    chat, ok = ~p.model_embedding[model], req["error"] < 0
    context = p.model_context[model]

    batch = (rng.random(n) < p.org_batch[org]) & p.offered[model, BATCH].any(axis=1)
    tier = np.where(batch, BATCH, STANDARD)
    offered = p.offered[model, tier]  # (n, categories)

    above = p.long_above[model, tier]
    span = np.minimum(context - output, 2 * above) - above
    long = chat & ok & (above > 0) & (span > 1) & (rng.random(n) < LONG_CONTEXT_SHARE)
    long_prompt = above + 1 + (rng.random(n) * np.maximum(span - 1, 1)).astype(np.int64)
    prompt = np.where(long, long_prompt, prompt)

    # The slower draws (lognormal, beta, poisson) only for the rows that use them.
    thinks = chat & ok & offered[:, CAT["reasoning_output"]]
    thinks &= rng.random(n) >= REASONING_MINIMAL_SHARE
    reasoning = np.zeros(n, np.int64)
    drawn = rng.lognormal(np.log(REASONING[0]), REASONING[1], int(thinks.sum()))
    reasoning[thinks] = np.clip(drawn, 1, MAX_REASONING).astype(np.int64)
    reasoning = np.minimum(reasoning, np.maximum(context - prompt - output, 0))

    ratio = p.org_cache[org]
    caches = chat & (ratio > 0)
    reads = caches & offered[:, CAT["cache_read_input"]]
    share = rng.beta(ratio[reads] * CACHE_CONCENTRATION, (1 - ratio[reads]) * CACHE_CONCENTRATION)
    steps = (prompt[reads] * share + CACHE_STEP / 2) // CACHE_STEP
    read = np.zeros(n, np.int64)
    read[reads] = np.minimum(steps, prompt[reads] // CACHE_STEP).astype(np.int64) * CACHE_STEP
    can_5m = offered[:, CAT["cache_write_5m_input"]]
    can_1h = offered[:, CAT["cache_write_1h_input"]]
    writes = caches & (can_5m | can_1h) & (rng.random(n) < CACHE_WRITE_CALL_SHARE)
    written = ((prompt - read) * rng.uniform(*CACHE_WRITE_SPAN, n)).astype(np.int64) * writes
    one_hour = np.where(can_5m & can_1h, rng.random(n) < p.org_write_1h[org], can_1h)

    counts = np.zeros((n, len(CATEGORIES)), np.int64)
    counts[:, CAT["input"]] = prompt - read - written
    counts[:, CAT["cache_read_input"]] = read
    counts[:, CAT["cache_write_5m_input"]] = np.where(one_hour, 0, written)
    counts[:, CAT["cache_write_1h_input"]] = np.where(one_hour, written, 0)
    counts[:, CAT["output"]] = output
    counts[:, CAT["reasoning_output"]] = reasoning
    for key, (call_share, mean) in PER_CALL_TOOLS.items():
        uses = chat & ok & offered[:, CAT[key]] & (rng.random(n) < call_share)
        counts[uses, CAT[key]] = 1 + rng.poisson(mean, int(uses.sum()))
    return {"counts": counts, "tier": tier, "explicit_tier": p.org_explicit_tier[org]}


def _costs(
    p: Pools, model: np.ndarray, tier: np.ndarray, occurred: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Each row's cost as ingestion computes it (docs: pricing contract), in units of 1e-10 USD:
    the price version of (model, tier) in effect at occurred_at with the largest context tier
    below the total input, each category's count * rate rounded half away from zero to 10
    places, summed. Exact integer arithmetic: rates are integers of millionths."""
    n = len(model)
    if not hasattr(p, "price_model"):
        return np.zeros(n, np.int64)
    total_input = counts[:, IS_INPUT].sum(axis=1)
    chosen = p.price_single[model, tier]
    for m in p.price_several:  # per model with several versions, on its rows only
        rows = np.nonzero(model == m)[0]
        if not len(rows):
            continue
        t, at, total = tier[rows], occurred[rows], total_input[rows]
        picked = chosen[rows]
        several = (p.price_model == m) & (p.price_single[m, p.price_tier] < 0)
        for r in np.nonzero(several)[0]:  # ordered by context tier: the largest match wins
            hit = (t == p.price_tier[r]) & (at >= p.price_from[r]) & (at < p.price_to[r])
            if p.price_above[r]:
                hit &= total > p.price_above[r]
            picked[hit] = r
        chosen[rows] = picked
    if (chosen < 0).any():
        raise AssertionError("a generated event has no price: the model mix should exclude it")
    cost = np.zeros(n, np.int64)
    for i in np.nonzero(counts.any(axis=0))[0]:  # only the categories in use
        count, rate = counts[:, i], p.price_rates[chosen, i]
        if ((count > 0) & (rate < 0)).any():
            raise AssertionError(f"a generated {CATEGORIES[i].count} its price does not offer")
        rate = np.maximum(rate, 0)
        if int(count.max()) * int(rate.max()) >= 2**62:  # exact beyond int64 (never realistic)
            count, rate = count.astype(object), rate.astype(object)
        # tokens: count * rate (millionths) / 1e12 USD = count * rate / 100 units; calls: * 10
        cost += (count * rate * 10 if PER_CALL[i] else (count * rate + 50) // 100).astype(np.int64)
    return cost


def _provider_cost(rng: np.random.Generator, cost: np.ndarray) -> np.ndarray:
    """provider_cost_usd in 1e-10 USD units, -1 = not sent: what the price gives, now and then off
    by a small amount (never below 0, never equal)."""
    n = len(cost)
    sent = rng.random(n) < PROVIDER_COST_SHARE
    off = sent & (rng.random(n) < PROVIDER_DISCREPANCY_SHARE)
    delta = np.rint(cost * rng.uniform(-PROVIDER_DISCREPANCY_MAX, PROVIDER_DISCREPANCY_MAX, n))
    delta = delta.astype(np.int64)
    delta = np.where(delta == 0, 1, delta)
    delta = np.where(cost + delta < 0, 1, delta)
    return np.where(sent, cost + np.where(off, delta, 0), -1)


def _usd(units: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Decimal text of amounts in 1e-10 USD (`0.0012345`, `3`): exact, no float; null where not
    valid. Formatted only for the valid rows, then spread back to their positions."""
    sent = units[valid]
    whole = pc.cast(pa.array(sent // 10**10), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(sent % 10**10), pa.string()), 10, "0")
    text = pc.binary_join_element_wise(whole, fraction, ".")
    text = pc.utf8_rtrim(pc.utf8_rtrim(text, "0"), ".")
    return text.take(pa.array(np.cumsum(valid) - 1, mask=~valid))


def _event_ids(ms: np.ndarray, random: np.ndarray) -> pa.Array:
    """`evt_` + a ULID: 10 Crockford base32 characters of the millisecond timestamp, then 16
    of the given 5-bit random values (80 bits). Sortable by time like a real ULID."""
    chars = np.empty((len(ms), 30), np.uint8)
    chars[:, :4] = EVENT_ID_PREFIX
    t = ms.astype(np.int64)
    for i in range(13, 3, -1):
        chars[:, i] = CROCKFORD[t & 31]
        t = t >> 5
    chars[:, 14:] = CROCKFORD[random]
    fixed = pa.Array.from_buffers(pa.binary(30), len(ms), [None, pa.py_buffer(chars)])
    return fixed.cast(pa.binary()).cast(pa.string())


def _rfc3339(ms: np.ndarray, offset: np.ndarray) -> pa.Array:
    """`YYYY-MM-DDTHH:MM:SS.mmm` in the offset's local time, then the offset (`Z`, `+05:30`)."""
    local = pa.array(ms + OFFSET_MS[offset], pa.timestamp("ms"))
    text = pc.utf8_replace_slice(pc.cast(local, pa.string()), 10, 11, "T")  # "... HH" -> "...THH"
    return pc.binary_join_element_wise(text, OFFSET_SUFFIX.take(pa.array(offset)), "")
