"""Vectorised blocks of usage events: numpy draws, pyarrow strings, no per-row Python for valid rows.

A block is a slice of one UTC hour with its own random generator, so its rows depend only on
(seed, hour, block, options): never on chunking or file layout. Every row of a block has one
class: on time, late, duplicate (exact resend or retry) or invalid (lib/generate/invalid.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dagster_project.lib.generate.catalog import Model, Org

ENVELOPE = (
    "event_id", "organization_id", "user_id", "api_key_id", "model", "operation", "occurred_at",
    "input_tokens", "output_tokens", "latency_ms", "status", "error_code", "metadata",
)  # fmt: skip
INT_FIELDS = frozenset({"input_tokens", "output_tokens", "latency_ms"})
NULLABLE = frozenset({"user_id", "api_key_id", "error_code", "metadata"})
# metadata is JSON text in every format (an object in NDJSON); `_class` and `_raw` are private.
SCHEMA = pa.schema(
    [pa.field(f, pa.int64() if f in INT_FIELDS else pa.string()) for f in ENVELOPE]
    + [pa.field("_class", pa.int8()), pa.field("_raw", pa.string())]
)

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
) -> tuple[pa.Table, np.ndarray, slice]:
    """n rows arriving in [start_ms, start_ms + span_ms), not ordered yet.

    Returns the rows, their arrival times (the caller orders by them) and the slice of rows to
    make invalid (lib/generate/invalid.py). Late rows occurred on a UTC day before
    `day_start_ms`, at most `mix.max_late_ms` before they arrived.
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
    table = pa.Table.from_arrays(
        [
            event_ids.take(s),
            pools.org_ids.take(pa.array(req["org"][src])),
            pools.user_ids.take(pa.array(req["user"][src], mask=~has_user)),
            pools.key_ids.take(pa.array(req["key"][src], mask=~has_key)),
            pools.model_refs.take(pa.array(req["model"][src])),
            pa.array(OPERATIONS).take(pa.array(req["operation"][src])),
            _rfc3339(occurred_all, req["offset"][src]),
            pa.array(req["input_tokens"][src]),
            pa.array(req["output_tokens"][src]),
            pa.array(req["latency_ms"][src]),
            pa.array(["success", "error"]).take(pa.array(has_error.astype(np.int8))),
            pa.array([e[0] for e in ERRORS]).take(pa.array(req["error"][src], mask=~has_error)),
            METADATA.take(pa.array(req["meta"][src], mask=~has_meta)),
            pa.array(classes, pa.int8()),
            pa.nulls(len(src), pa.string()),
        ],
        schema=SCHEMA,
    )
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
