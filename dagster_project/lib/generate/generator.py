"""`generate_usage(options)`: synthetic usage events for the seeded tenants, with a manifest.

Rows per hour follow a daily UTC curve and the weekday/weekend rhythm; each hour is cut into
blocks of at most BLOCK_ROWS, each with its own generator seeded by (seed, hour, block), so the
same options give byte-identical files and memory stays flat (lib/generate/traffic.py).

Every row has exactly one class, and the manifest counts them, per file and in total:
  on_time + late = valid    unique events ingestion must accept (late: occurred on an earlier
                            UTC day than the one it arrives with, at most max_late_days before)
  duplicates                resends of a valid event of the same block: exact copies, or
                            retries with the same event_id and a later occurred_at
  invalid (by kind)         what ingestion must quarantine (lib/generate/invalid.py)
so ingestion of the files must report submitted = rows, accepted = valid,
duplicates = duplicates, quarantined = invalid.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from dagster_project.lib.errors import InvalidInput
from dagster_project.lib.generate.catalog import Catalog, Model, Org, load_catalog
from dagster_project.lib.generate.invalid import KINDS, Corruptor, available_kinds
from dagster_project.lib.generate.output import (
    COUNTS,
    DAY_PLACEHOLDER,
    EXTENSIONS,
    FORMATS,
    FileStats,
    Output,
)
from dagster_project.lib.generate.traffic import (
    DAY_MS,
    DUPLICATE_EXACT,
    DUPLICATE_RETRY,
    ENVELOPES,
    HOUR_MS,
    INVALID,
    LATE,
    ON_TIME,
    PROFILES,
    Mix,
    OrgProfile,
    Pools,
    hour_weights,
    make_block,
)

MANIFEST_VERSION = 1
# Rows generated at once: big enough for numpy/arrow to run at full speed, small enough to keep
# a block's working set around 10 MB. Fixed: the output must not depend on it changing.
BLOCK_ROWS = 50_000
# Default traffic per model name for a registry-derived mix: small, cheap models carry most
# requests. Other active models get OTHER_MODEL_WEIGHT; deprecated ones a trickle (clients
# migrate late); retired ones, or models without a price over the window, none.
MODEL_POPULARITY = {"gpt-4o-mini": 30, "gpt-4o": 22, "claude-3-5-sonnet": 18, "claude-3-5-haiku": 10,
                    "gemini-1.5-flash": 8, "text-embedding-3-small": 12, "text-embedding-3-large": 3}  # fmt: skip
OTHER_MODEL_WEIGHT, DEPRECATED_FACTOR = 4.0, 0.15
# Organization sizes: the i-th selected tenant sends 1/(i+1) of the first's traffic (Zipf-like,
# a few large tenants and a long tail).
ORG_SKEW = 1.0
DEFAULT_EVENTS_PER_HOUR = 2_000.0


@dataclass(frozen=True)
class GenerateOptions:
    output: Path
    format: str | None = None  # ndjson | csv | parquet; default: from the extension
    seed: int = 42
    orgs: str | None = None  # "3" (the first three active) or "acme,globex"; default: all active
    start: date | None = None  # first UTC day; default: today - days (yesterday is the last day)
    days: int = 1
    events_per_hour: float | None = None  # mean rows per hour; default DEFAULT_EVENTS_PER_HOUR
    events: int | None = None  # exact number of rows instead
    diurnal: bool = True
    model_mix: str | None = None  # "gpt-4o=0.5,claude-3-5-sonnet=0.3"; default from the registry
    error_rate: float = 0.02
    late_fraction: float = 0.02
    max_late_days: int = 3
    duplicate_fraction: float = 0.01
    invalid_fraction: float = 0.005
    invalid_kinds: str | None = None  # "unknown_org,missing_field"; default: all the format allows
    rows_per_file: int | None = None
    # 1.1: token categories, service tiers and provider costs (lib/generate/traffic.py);
    # 1.0: input and output tokens only, the files the generator wrote before 1.1.
    envelope: str = "1.1"


@dataclass(frozen=True)
class Plan:
    """Options resolved against the catalog: what exactly will be generated."""

    options: GenerateOptions
    fmt: str
    target: Path  # a file name, possibly with YYYYMMDD
    manifest: Path
    start: date
    orgs: tuple[Org, ...]
    models: tuple[Model, ...]
    model_weights: tuple[float, ...]
    kinds: tuple[str, ...]
    window: tuple[datetime, datetime]  # where occurred_at can fall: prices are read over it
    profiles: tuple[OrgProfile, ...]  # per selected organization


def plan(options: GenerateOptions, catalog: Catalog) -> Plan:
    o = options
    _check(o.seed >= 0, "--seed must be >= 0")
    _check(o.days >= 1, "--days must be >= 1")
    for name in ("error_rate", "late_fraction", "duplicate_fraction", "invalid_fraction"):
        _check(0 <= getattr(o, name) <= 1, f"--{name.replace('_', '-')} must be in [0, 1]")
    _check(
        o.late_fraction + o.duplicate_fraction + o.invalid_fraction <= 1,
        "late, duplicate and invalid fractions add up to more than 1",
    )
    _check(o.max_late_days >= 1 or o.late_fraction == 0, "--max-late-days must be >= 1")
    _check(
        o.events is None or o.events_per_hour is None,
        "give --events or --events-per-hour, not both",
    )
    _check(o.events is None or o.events >= 0, "--events must be >= 0")
    _check(o.events_per_hour is None or o.events_per_hour >= 0, "--events-per-hour must be >= 0")
    _check(o.rows_per_file is None or o.rows_per_file >= 1, "--rows-per-file must be >= 1")
    _check(o.envelope in ENVELOPES, f"--envelope must be one of {', '.join(ENVELOPES)}")

    fmt, target = _resolve_output(o.output, o.format)
    start = o.start or datetime.now(UTC).date() - timedelta(days=o.days)
    orgs = _select_orgs(catalog, o.orgs)
    # Models need a price from the earliest late row to a day past the window (retries).
    first = _utc(start) - timedelta(days=o.max_late_days if o.late_fraction else 0)
    window = (first, _utc(start) + timedelta(days=o.days + 1))
    models, weights = _model_mix(catalog, o.model_mix, *window)
    possible = available_kinds(catalog, orgs, fmt, o.envelope, models, window)
    if o.invalid_kinds:
        kinds = list(dict.fromkeys(k.strip() for k in o.invalid_kinds.split(",") if k.strip()))
        for kind in kinds:
            _check(kind in KINDS, f"unknown invalid kind {kind!r}; known: {', '.join(KINDS)}")
            _check(
                kind in possible,
                f"invalid kind {kind} is not possible in {fmt} with these seeds/orgs",
            )
    else:
        kinds = possible
    _check(bool(kinds) or o.invalid_fraction == 0, "no invalid kind to generate")
    label = (
        f"{start:%Y%m%d}"
        if o.days == 1
        else f"{start:%Y%m%d}-{start + timedelta(o.days - 1):%Y%m%d}"
    )
    manifest_name = str(o.output).rstrip("/\\").replace(DAY_PLACEHOLDER, label) + ".manifest.json"
    # A tenant's profile follows its position in the seeds, whichever tenants are selected.
    profiles = tuple(PROFILES[catalog.orgs.index(org) % len(PROFILES)] for org in orgs)
    return Plan(
        o, fmt, target, Path(manifest_name), start, orgs, models, weights, tuple(kinds), window,
        profiles,
    )  # fmt: skip


def generate_usage(
    options: GenerateOptions,
    catalog: Catalog | None = None,
    on_block: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the files and their manifest; return the manifest. `on_block(rows_so_far)` is
    called after each block (progress, or memory sampling in tests)."""
    catalog = catalog or load_catalog()
    p = plan(options, catalog)
    o = p.options
    pools = Pools(
        p.orgs,
        1.0 / np.arange(1, len(p.orgs) + 1) ** ORG_SKEW,
        p.models,
        np.array(p.model_weights),
        p.window,
        p.profiles,
    )
    mix = Mix(
        o.error_rate,
        o.late_fraction,
        o.duplicate_fraction,
        o.invalid_fraction,
        o.max_late_days * DAY_MS,
    )
    corruptor = Corruptor(catalog, p.orgs, p.kinds, o.envelope, p.models, p.window)
    start_ms = int(_utc(p.start).timestamp() * 1000)
    counts = _hour_counts(p, start_ms)

    output, written = Output(p.target, p.fmt, o.rows_per_file, o.envelope), 0
    for hour, rows in enumerate(counts.tolist()):
        hour_ms = start_ms + hour * HOUR_MS
        blocks = math.ceil(rows / BLOCK_ROWS)
        for b in range(blocks):
            # The block's rows and its own slice of the hour, so blocks stay in time order.
            n = rows // blocks + (b < rows % blocks)
            rng = np.random.default_rng([o.seed, 1, hour_ms // HOUR_MS, b])
            extra = (
                np.random.default_rng([o.seed, 2, hour_ms // HOUR_MS, b])
                if o.envelope != "1.0"
                else None
            )
            begin, end = hour_ms + HOUR_MS * b // blocks, hour_ms + HOUR_MS * (b + 1) // blocks
            table, arrival, invalid = make_block(
                rng, pools, mix, n, begin, end - begin, hour_ms - hour % 24 * HOUR_MS, extra
            )
            if invalid.stop > invalid.start:
                table = corruptor.apply(rng, table, invalid)
            output.write(
                p.start + timedelta(hour // 24), table.take(np.argsort(arrival, kind="stable"))
            )
            written += n
            if on_block:
                on_block(written)
    manifest = _manifest(p, output.close())
    _write_atomically(p.manifest, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _hour_counts(p: Plan, start_ms: int) -> np.ndarray:
    o = p.options
    weights = hour_weights(p.start, o.days, o.diurnal)
    rng = np.random.default_rng([o.seed, 0, start_ms // DAY_MS, o.days])
    if o.events is not None:
        return rng.multinomial(o.events, weights / weights.sum())
    return rng.poisson(
        (o.events_per_hour if o.events_per_hour is not None else DEFAULT_EVENTS_PER_HOUR) * weights
    )


def _manifest(p: Plan, files: list[FileStats]) -> dict[str, Any]:
    base = p.manifest.parent
    totals = FileStats(Path(), None)
    for f in files:
        totals.merge(f)
    options = {
        k: (str(v) if isinstance(v, Path | date) else v) for k, v in asdict(p.options).items()
    }
    options.update(output=str(p.options.output), start=p.start.isoformat(), format=p.fmt)
    end = p.start + timedelta(days=p.options.days)
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": "platformctl generate-usage",
        "options": options,
        "window": {"start": f"{p.start}T00:00:00Z", "end": f"{end}T00:00:00Z"},
        "envelope": p.options.envelope,
        "organizations": [o.slug for o in p.orgs],
        # How each tenant uses envelope 1.1 (traffic.PROFILES); only where the prices allow.
        "organization_profiles": {
            o.slug: asdict(profile) for o, profile in zip(p.orgs, p.profiles, strict=True)
        },
        # Shares of requests per model (normalised weights).
        "model_mix": {
            m.ref: round(w / sum(p.model_weights), 6)
            for m, w in zip(p.models, p.model_weights, strict=True)
        },
        "invalid_kinds": {k: KINDS[k] for k in p.kinds},
        "totals": _counts(totals, p.kinds),
        "expected_ingest": _expected(totals, p.kinds),
        "files": [
            {
                "path": os.path.relpath(f.path, base),
                "day": f.day.isoformat() if f.day else None,
                "bytes": f.bytes,
                "sha256": f.sha256,
                **_counts(f, p.kinds),
            }
            for f in files
        ],
    }


def _counts(s: FileStats, kinds: tuple[str, ...]) -> dict[str, Any]:
    c = s.classes
    return {
        "rows": s.rows,
        "valid": c[ON_TIME] + c[LATE],
        "on_time": c[ON_TIME],
        "late": c[LATE],
        "duplicates": c[DUPLICATE_EXACT] + c[DUPLICATE_RETRY],
        "duplicate_exact": c[DUPLICATE_EXACT],
        "duplicate_retry": c[DUPLICATE_RETRY],
        "invalid": sum(c[INVALID + i] for i in range(len(kinds))),
        "invalid_by_kind": {k: c[INVALID + i] for i, k in enumerate(kinds)},
        "valid_error_events": s.error_events,
        **{f"valid_{name}": s.counts[name] for name in COUNTS},
        "valid_by_service_tier": dict(sorted(s.tiers.items())),
        # cost_source 'provider' events, and those whose provider cost differs from the price's
        "valid_provider_cost_events": s.provider_cost_events,
        "valid_provider_cost_discrepancies": s.provider_discrepancies,
        # Exact decimals: the sum of every valid event's cost by the prices, and of cost_usd as
        # ingestion must store it (the provider's where sent).
        "valid_computed_cost_usd": _usd(s.computed_cost),
        "valid_cost_usd": _usd(s.cost),
    }


def _usd(units: int) -> str:
    """An amount in 1e-10 USD as exact decimal text with 10 places."""
    return str(Decimal(units).scaleb(-10).quantize(Decimal(1).scaleb(-10)))


def _expected(s: FileStats, kinds: tuple[str, ...]) -> dict[str, int]:
    c = _counts(s, kinds)
    return {
        "submitted": c["rows"],
        "accepted": c["valid"],
        "duplicates": c["duplicates"],
        "quarantined": c["invalid"],
    }


def _resolve_output(output: Path, fmt: str | None) -> tuple[str, Path]:
    """(format, file name pattern). A directory (existing, ending in /, or without an
    extension) gets one file per day: <dir>/usage-YYYYMMDD.<ext>."""
    _check(fmt is None or fmt in EXTENSIONS, f"--format must be one of {', '.join(EXTENSIONS)}")
    text = str(output)
    if output.is_dir() or text.endswith(("/", os.sep)) or not output.suffix:
        fmt = fmt or "ndjson"
        return fmt, output / f"usage-{DAY_PLACEHOLDER}{EXTENSIONS[fmt]}"
    by_extension = FORMATS.get(output.suffix.lower())
    _check(
        fmt is not None or by_extension is not None,
        f"cannot tell the format of {output.name}: use .ndjson, .csv or .parquet, or --format",
    )
    return fmt or by_extension or "ndjson", output


def _select_orgs(catalog: Catalog, spec: str | None) -> tuple[Org, ...]:
    active = [o for o in catalog.orgs if o.status == "active"]
    if spec is None or spec.strip() == "":
        chosen = active
    elif spec.strip().isdigit():
        count = int(spec)
        _check(
            1 <= count <= len(active),
            f"--orgs {count}: the seeds have {len(active)} active organization(s)",
        )
        chosen = active[:count]
    else:
        chosen = [catalog.org(s.strip()) for s in spec.split(",") if s.strip()]
        for org in chosen:
            # A suspended tenant's requests are refused: it produces no usage.
            _check(
                org.status == "active",
                f"organization {org.slug} is {org.status}: it sends no traffic",
            )
    _check(bool(chosen), "no active organization to generate traffic for")
    _check(len({o.id for o in chosen}) == len(chosen), "--orgs names an organization twice")
    return tuple(chosen)


def _model_mix(
    catalog: Catalog, spec: str | None, begin: datetime, end: datetime
) -> tuple[tuple[Model, ...], tuple[float, ...]]:
    """Models and relative weights. Only models with a price in effect over the whole window
    (and not retired): ingestion costs every event at its occurred_at."""
    usable = [
        m for m in catalog.models if m.status != "retired" and m.priced_throughout(begin, end)
    ]
    if not spec:
        weights = [
            MODEL_POPULARITY.get(m.name, OTHER_MODEL_WEIGHT)
            * (DEPRECATED_FACTOR if m.status == "deprecated" else 1.0)
            for m in usable
        ]
        _check(
            bool(usable),
            f"no model of the registry has a price from {begin:%Y-%m-%d} to {end:%Y-%m-%d}",
        )
        return tuple(usable), tuple(weights)
    chosen: dict[str, tuple[Model, float]] = {}
    for part in spec.split(","):
        name, _, weight = part.partition("=")
        matches = [m for m in catalog.models if name.strip() in (m.ref, m.name)]
        _check(
            len(matches) == 1,
            f"--model-mix: {name.strip()!r} matches {len(matches)} registry models "
            f"(known: {', '.join(m.ref for m in catalog.models)})",
        )
        model = matches[0]
        _check(
            model in usable, f"--model-mix: {model.ref} is retired or has no price over the window"
        )
        _check(
            re.fullmatch(r"\s*\d+(\.\d*)?\s*", weight) is not None and float(weight) > 0,
            f"--model-mix: weight of {model.ref} must be a positive number, got {weight!r}",
        )
        chosen[model.ref] = (model, float(weight))
    return tuple(m for m, _ in chosen.values()), tuple(w for _, w in chosen.values())


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInput(message)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
