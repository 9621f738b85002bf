"""The traffic generator (lib/generate, `platformctl generate-usage`), checked from its files.

The files are read back and classified by an independent reference validator below, then
compared with the manifest: the manifest's accounting is what ingestion tests rely on.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dagster_project.cli import app
from dagster_project.lib.generate import (
    INVALID_KINDS,
    GenerateOptions,
    generate_usage,
    load_catalog,
    plan,
)
from dagster_project.lib.generate.catalog import Catalog, Model, Price
from dagster_project.lib.generate.traffic import ENVELOPE, ENVELOPE_1_0, ERRORS, INT_FIELDS
from dagster_project.lib.pricing.categories import CATEGORIES, category_cost

START = date(2026, 11, 16)  # a Monday
EVENT_ID = re.compile(r"^evt_[0-9A-HJKMNP-TV-Z]{26}$")
REQUIRED = set(ENVELOPE_1_0) - {"user_id", "api_key_id", "error_code", "metadata"}
COUNTS = {c.count for c in CATEGORIES}
INPUT_COUNTS = [c.count for c in CATEGORIES if c.is_input]
MALFORMED = "<malformed>"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def options(output: Path, **overrides: Any) -> GenerateOptions:
    base = GenerateOptions(
        output=output,
        seed=7,
        start=START,
        days=2,
        events=6_000,
        late_fraction=0.05,
        duplicate_fraction=0.05,
        invalid_fraction=0.05,
    )
    return replace(base, **overrides)


def read_rows(path: Path) -> list[dict[str, Any] | str]:
    """Logical rows, the same whatever the format: absent = None, metadata parsed, ints as int.
    A line that is not JSON is MALFORMED."""
    if path.suffix == ".ndjson":
        rows: list[dict[str, Any] | str] = []
        for line in path.read_text().splitlines():
            try:
                event = json.loads(line, parse_float=Decimal)  # provider_cost_usd: exact
            except json.JSONDecodeError:
                rows.append(MALFORMED)
                continue
            rows.append(_absent_is_zero({f: event.get(f) for f in ENVELOPE}))
        return rows
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            raw = [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(f)]
        for r in raw:
            for f in INT_FIELDS & set(r):
                r[f] = int(r[f]) if r[f] is not None else None
    else:
        raw = pq.read_table(path).to_pylist()
    for r in raw:
        r["metadata"] = json.loads(r["metadata"]) if r["metadata"] is not None else None
    return [_absent_is_zero({f: r.get(f) for f in ENVELOPE}) for r in raw]


def _absent_is_zero(row: dict[str, Any]) -> dict[str, Any]:
    """Envelope 1.1: an absent count is 0 (a 1.0 file has none of them)."""
    for f in COUNTS - {"input_tokens", "output_tokens"}:
        row[f] = row[f] or 0
    if row["provider_cost_usd"] is not None:  # a JSON number in NDJSON, text in CSV and Parquet
        row["provider_cost_usd"] = Decimal(str(row["provider_cost_usd"]))
    return row


def price_of(row: dict[str, Any], catalog: Catalog) -> Any:
    """The price version ingestion picks (the pricing contract), or None."""
    model = next(m for m in catalog.models if m.ref == row["model"])
    occurred = datetime.fromisoformat(row["occurred_at"])
    total = sum(row[f] for f in INPUT_COUNTS)
    rows = [
        p
        for p in model.price_rows
        if p.service_tier == (row["service_tier"] or "standard")
        and p.effective_from <= occurred
        and (p.effective_to is None or occurred < p.effective_to)
        and (p.above_input_tokens == 0 or total > p.above_input_tokens)
    ]
    return max(rows, key=lambda p: p.above_input_tokens) if rows else None


def cost_of(row: dict[str, Any], catalog: Catalog) -> Decimal:
    """What the price gives, by lib/pricing's Decimal oracle."""
    price = price_of(row, catalog)
    return sum(
        (category_cost(row[c.count], price.rates[i], c.unit) for i, c in enumerate(CATEGORIES)),
        Decimal(0),
    )


def all_rows(
    manifest: dict[str, Any], manifest_path: Path
) -> list[tuple[str, dict[str, Any] | str]]:
    return [
        (f["path"], r)
        for f in manifest["files"]
        for r in read_rows(manifest_path.parent / f["path"])
    ]


def _uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def invalid_kind(row: dict[str, Any] | str, catalog: Catalog, window_end: datetime) -> str | None:
    """Why ingestion must refuse this row (the generator's kind names), or None if it is valid."""
    if row == MALFORMED:
        return "malformed_json"
    assert isinstance(row, dict)
    if any(row[f] is None for f in REQUIRED):
        return "missing_field"
    try:
        occurred = datetime.fromisoformat(row["occurred_at"])
    except ValueError:
        return "bad_type"
    if occurred.tzinfo is None or any(
        row[f] is not None and not _uuid(row[f]) for f in ("user_id", "api_key_id")
    ):
        return "bad_type"
    if row["input_tokens"] < 0 or row["output_tokens"] < 0:
        return "negative_tokens"
    orgs = {o.id: o for o in catalog.orgs}
    if row["organization_id"] not in orgs:
        return "unknown_org"
    models = {m.ref: m for m in catalog.models}
    if row["model"] not in models:
        return "unknown_model"
    org = orgs[row["organization_id"]]
    if row["api_key_id"] is not None and row["api_key_id"] not in org.api_key_ids:
        return "foreign_api_key"
    if row["user_id"] is not None and row["user_id"] not in org.member_ids:
        return "foreign_user"
    if occurred > window_end + timedelta(days=1):
        return "future_timestamp"
    if sum(row[f] for f in INPUT_COUNTS) > models[row["model"]].context_window:
        return "exceeds_context_window"
    price = price_of(row, catalog)
    assert price is not None, row  # the generator only uses models priced over the window
    if any(row[c.count] and price.rates[i] is None for i, c in enumerate(CATEGORIES)):
        return "unpriced_category"
    return None


def classify(
    rows: list[tuple[str, dict[str, Any] | str]], catalog: Catalog, window_end: datetime
) -> dict[str, Any]:
    """Counts as the manifest states them, derived from the rows alone."""
    counts: Counter[str] = Counter()
    invalid: Counter[str] = Counter()
    computed_cost = [Decimal(0), Decimal(0)]  # by the prices; as stored (the provider's if sent)
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for _, row in rows:
        kind = invalid_kind(row, catalog, window_end)
        if kind:
            invalid[kind] += 1
            continue
        assert isinstance(row, dict)
        key = (row["organization_id"], row["event_id"])
        if key in first:
            same = first[key] == row
            counts["duplicate_exact" if same else "duplicate_retry"] += 1
            if not same:
                assert {k for k in row if row[k] != first[key][k]} == {"occurred_at"}
                assert datetime.fromisoformat(row["occurred_at"]) > datetime.fromisoformat(
                    first[key]["occurred_at"]
                )
            continue
        first[key] = row
        counts["valid"] += 1
        for f in COUNTS:
            counts[f"valid_{f}"] += row[f]
        counts["valid_error_events"] += row["status"] == "error"
        cost = cost_of(row, catalog)
        provider = row["provider_cost_usd"]
        computed_cost[0] += cost
        computed_cost[1] += cost if provider is None else Decimal(str(provider))
        counts["valid_provider_cost_events"] += provider is not None
        counts["valid_provider_cost_discrepancies"] += (
            provider is not None and Decimal(str(provider)) != cost
        )
    counts["duplicates"] = counts["duplicate_exact"] + counts["duplicate_retry"]
    return {
        **counts,
        "invalid": sum(invalid.values()),
        "invalid_by_kind": dict(invalid),
        "rows": len(rows),
        "valid_computed_cost_usd": f"{computed_cost[0]:.10f}",
        "valid_cost_usd": f"{computed_cost[1]:.10f}",
    }


def generate(opts: GenerateOptions, catalog: Catalog) -> tuple[dict[str, Any], Path]:
    return generate_usage(opts, catalog), plan(opts, catalog).manifest


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_same_seed_gives_identical_bytes_and_another_seed_does_not(
    tmp_path: Path, catalog: Catalog, fmt: str
) -> None:
    contents = {}
    for run, seed in (("a", 7), ("b", 7), ("c", 8)):
        manifest, manifest_path = generate(
            options(tmp_path / run / f"usage.{fmt}", seed=seed), catalog
        )
        contents[run] = (tmp_path / run / f"usage.{fmt}").read_bytes()
        assert manifest["files"][0]["sha256"] != ""
    assert contents["a"] == contents["b"]
    assert contents["a"] != contents["c"]
    manifests = [
        json.loads((tmp_path / run / f"usage.{fmt}.manifest.json").read_text()) for run in "ab"
    ]
    for m in manifests:
        m["options"].pop("output")
    assert manifests[0] == manifests[1]


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_rows_classified_independently_match_the_manifest(
    tmp_path: Path, catalog: Catalog, fmt: str
) -> None:
    manifest, manifest_path = generate(options(tmp_path / f"usage.{fmt}"), catalog)
    window_end = datetime.fromisoformat(manifest["window"]["end"])
    found = classify(all_rows(manifest, manifest_path), catalog, window_end)
    totals = manifest["totals"]
    for key in (
        "rows",
        "valid",
        "duplicates",
        "duplicate_exact",
        "duplicate_retry",
        "invalid",
        "valid_error_events",
        *(f"valid_{f}" for f in COUNTS),
        "valid_provider_cost_events",
        "valid_provider_cost_discrepancies",
        "valid_computed_cost_usd",
        "valid_cost_usd",
    ):
        assert found[key] == totals[key], key
    assert found["invalid_by_kind"] == {k: v for k, v in totals["invalid_by_kind"].items() if v}
    # Every declared kind occurs (300 invalid rows over at most 11 kinds), and only those.
    expected_kinds = set(INVALID_KINDS) - (set() if fmt == "ndjson" else {"malformed_json"})
    assert set(found["invalid_by_kind"]) == expected_kinds == set(manifest["invalid_kinds"])
    assert totals["rows"] == totals["valid"] + totals["duplicates"] + totals["invalid"] == 6_000
    assert manifest["expected_ingest"] == {
        "submitted": 6_000,
        "accepted": totals["valid"],
        "duplicates": totals["duplicates"],
        "quarantined": totals["invalid"],
    }
    assert totals["duplicate_retry"] > 0 and totals["duplicate_exact"] > 0


def test_late_rows_arrive_on_a_later_day_within_max_late_days(
    tmp_path: Path, catalog: Catalog
) -> None:
    manifest, manifest_path = generate(
        options(tmp_path / "landing", days=3, max_late_days=2), catalog
    )
    assert [f["path"] for f in manifest["files"]] == [
        "landing/usage-20261116.ndjson",
        "landing/usage-20261117.ndjson",
        "landing/usage-20261118.ndjson",
    ]
    window_end = datetime.fromisoformat(manifest["window"]["end"])
    late_total = 0
    for f in manifest["files"]:
        day_start = datetime.combine(date.fromisoformat(f["day"]), datetime.min.time(), UTC)
        seen, late = set(), 0
        for row in read_rows(manifest_path.parent / f["path"]):
            if invalid_kind(row, catalog, window_end):
                continue
            assert isinstance(row, dict)
            key = (row["organization_id"], row["event_id"])
            if key in seen:
                continue
            seen.add(key)
            occurred = datetime.fromisoformat(row["occurred_at"])
            if occurred < day_start:
                late += 1
                assert occurred >= day_start - timedelta(days=2)
            else:
                assert occurred < day_start + timedelta(days=1)
        assert late == f["late"] > 0
        late_total += late
    assert late_total == manifest["totals"]["late"]
    assert manifest["totals"]["on_time"] + late_total == manifest["totals"]["valid"]


def test_formats_round_trip_to_the_same_logical_rows(tmp_path: Path, catalog: Catalog) -> None:
    # malformed_json exists only in NDJSON: without it every format holds the same rows.
    kinds = ",".join(k for k in INVALID_KINDS if k != "malformed_json")
    rows = {}
    for fmt in ("ndjson", "csv", "parquet"):
        manifest, manifest_path = generate(
            options(tmp_path / f"usage.{fmt}", invalid_kinds=kinds), catalog
        )
        rows[fmt] = [r for _, r in all_rows(manifest, manifest_path)]
    assert len(rows["ndjson"]) == 6_000
    assert rows["ndjson"] == rows["csv"] == rows["parquet"]


def test_valid_rows_use_seeded_entities_realistically(tmp_path: Path, catalog: Catalog) -> None:
    manifest, manifest_path = generate(
        options(tmp_path / "usage.parquet", events=20_000, error_rate=0.1), catalog
    )
    window_end = datetime.fromisoformat(manifest["window"]["end"])
    valid = [
        r for _, r in all_rows(manifest, manifest_path) if not invalid_kind(r, catalog, window_end)
    ]
    orgs = {o.id: o for o in catalog.orgs if o.status == "active"}
    models = {m.ref: m for m in catalog.models}
    codes = {e[0] for e in ERRORS}
    for r in valid:
        assert isinstance(r, dict)
        org = orgs[r["organization_id"]]  # active organizations only
        assert EVENT_ID.match(r["event_id"])
        assert r["api_key_id"] is None or r["api_key_id"] in org.api_key_ids  # never a revoked key
        assert r["user_id"] is None or r["user_id"] in org.caller_ids  # viewers send nothing
        assert models[r["model"]].status != "retired"
        assert (
            sum(r[f] for f in COUNTS if f.endswith("_tokens")) <= models[r["model"]].context_window
        )
        assert r["latency_ms"] >= 0
        if r["status"] == "error":
            assert r["error_code"] in codes and r["output_tokens"] == 0
        else:
            assert r["status"] == "success" and r["error_code"] is None
            # embeddings return vectors, not tokens
            assert (r["output_tokens"] == 0) == (r["operation"] == "embeddings")
    assert {r["organization_id"] for r in valid} == set(orgs)
    assert 0.08 < sum(r["status"] == "error" for r in valid) / len(valid) < 0.12
    used = Counter(r["model"] for r in valid)
    assert used.most_common(1)[0][0] == "openai/gpt-4o-mini@2024-07-18"
    offsets = Counter(r["occurred_at"][23:] for r in valid)
    assert offsets["Z"] > len(valid) / 2 and len(offsets) > 2  # mostly UTC, some local offsets


def test_embedding_models_get_embedding_shaped_traffic(tmp_path: Path, catalog: Catalog) -> None:
    # the seeded registry has an embedding model
    embed = next(m for m in catalog.models if m.name == "text-embedding-3-small")
    with_embeddings = catalog
    opts = options(
        tmp_path / "usage.csv",
        model_mix="text-embedding-3-small=1,gpt-4o=1",
        error_rate=0,
        late_fraction=0,
        duplicate_fraction=0,
        invalid_fraction=0,
    )
    manifest, manifest_path = generate(opts, with_embeddings)
    rows = [r for _, r in all_rows(manifest, manifest_path)]
    embeddings = [r for r in rows if r["model"] == embed.ref]
    chat = [r for r in rows if r["model"] != embed.ref]
    assert embeddings and chat
    assert all(
        r["operation"] == "embeddings" and r["output_tokens"] == 0 and r["input_tokens"] <= 8191
        for r in embeddings
    )
    assert {r["operation"] for r in chat} == {"chat.completions", "responses.create"}
    assert all(r["output_tokens"] > 0 for r in chat)
    mean = lambda rs, f: sum(r[f] for r in rs) / len(rs)  # noqa: E731
    assert mean(embeddings, "latency_ms") < mean(chat, "latency_ms") / 5


def hourly(manifest: dict[str, Any], manifest_path: Path) -> Counter[int]:
    return Counter(
        datetime.fromisoformat(r["occurred_at"]).astimezone(UTC).hour
        for _, r in all_rows(manifest, manifest_path)
    )


def test_diurnal_curve_and_weekends(tmp_path: Path, catalog: Catalog) -> None:
    clean = dict(late_fraction=0, duplicate_fraction=0, invalid_fraction=0, days=7, events=35_000)
    manifest, path = generate(options(tmp_path / "d.parquet", **clean), catalog)
    by_hour = hourly(manifest, path)
    peak = sum(by_hour[h] for h in (13, 14, 15, 16))
    night = sum(by_hour[h] for h in (2, 3, 4, 5))
    assert peak > 3 * night
    by_day = Counter(
        datetime.fromisoformat(r["occurred_at"]).astimezone(UTC).weekday()
        for _, r in all_rows(manifest, path)
    )
    assert by_day[5] + by_day[6] < 0.6 * (
        by_day[0] + by_day[1]
    )  # Saturday + Sunday vs Monday + Tuesday

    manifest, path = generate(options(tmp_path / "flat.parquet", diurnal=False, **clean), catalog)
    flat = hourly(manifest, path)
    assert max(flat.values()) < 1.2 * min(flat.values())


def test_events_per_hour_is_a_mean(tmp_path: Path, catalog: Catalog) -> None:
    opts = options(tmp_path / "u.parquet", events=None, events_per_hour=500, diurnal=False, days=4)
    manifest, _ = generate(opts, catalog)
    assert abs(manifest["totals"]["rows"] - 500 * 96) < 4 * (500 * 96) ** 0.5  # Poisson: 4 sigma


def test_day_files_split_into_parts(tmp_path: Path, catalog: Catalog) -> None:
    opts = options(tmp_path / "out" / "usage-YYYYMMDD.csv", rows_per_file=1_000)
    manifest, manifest_path = generate(opts, catalog)
    assert manifest_path == tmp_path / "out" / "usage-20261116-20261117.csv.manifest.json"
    assert manifest_path.exists()
    names = [f["path"] for f in manifest["files"]]
    assert names[0] == "usage-20261116-0001.csv" and names[-1].startswith("usage-20261117-")
    assert all(f["rows"] <= 1_000 for f in manifest["files"])
    assert sum(f["rows"] for f in manifest["files"]) == manifest["totals"]["rows"] == 6_000
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"late_fraction": 0.6, "invalid_fraction": 0.5}, "add up to more than 1"),
        ({"orgs": "initech"}, "suspended"),
        ({"orgs": "nope"}, "no seeded organization"),
        ({"model_mix": "gpt-3.5-turbo=1"}, "retired"),
        ({"model_mix": "gpt-4o=abc"}, "positive number"),
        ({"invalid_kinds": "unknown_org,bogus"}, "unknown invalid kind"),
        ({"output": Path("x.txt")}, "cannot tell the format"),
        ({"events_per_hour": 10.0}, "not both"),
        ({"envelope": "2.0"}, "--envelope must be one of"),
        ({"envelope": "1.0", "invalid_kinds": "unpriced_category"}, "not possible"),
    ],
)
def test_bad_options_are_one_clear_error(
    tmp_path: Path, catalog: Catalog, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        generate_usage(replace(options(tmp_path / "u.ndjson"), **overrides), catalog)


def test_orgs_by_count_and_slug(tmp_path: Path, catalog: Catalog) -> None:
    first = catalog.orgs[0]
    for spec in ("1", first.slug):
        manifest, _ = generate(options(tmp_path / f"{spec}.parquet", orgs=spec), catalog)
        assert manifest["organizations"] == [first.slug]


def test_cli_generates_and_prints_the_summary(tmp_path: Path) -> None:
    target = tmp_path / "landing"
    result = CliRunner().invoke(
        app,
        [
            "generate-usage",
            "--output",
            f"{target}/",
            "--start",
            "2026-11-16",
            "--days",
            "2",
            "--events",
            "3000",
            "--format",
            "csv",
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "duplicates" in result.output and "foreign_api_key" in result.output
    manifest = json.loads((tmp_path / "landing.manifest.json").read_text())
    assert manifest["totals"]["rows"] == 3_000
    assert sorted(p.name for p in target.iterdir()) == ["usage-20261116.csv", "usage-20261117.csv"]

    bad = CliRunner().invoke(
        app, ["generate-usage", "--output", str(tmp_path / "x.csv"), "--orgs", "initech"]
    )
    assert bad.exit_code == 1 and "suspended" in bad.output


# Prices as the registry holds them since issue 10, on top of the seeds' input/output ones:
# prompt caching (OpenAI reads; Anthropic reads and writes, 1h writes on sonnet only), batch
# tiers, web search on two models, a context tier on gemini and a reasoning model.
def _rates(**rates: float) -> tuple[Decimal | None, ...]:
    return tuple(Decimal(str(rates[c.key])) if c.key in rates else None for c in CATEGORIES)


RICH = {  # model name: (standard extras, batch factor or None, above_input_tokens tier or None)
    "gpt-4o": ({"cache_read_input": 0.5, "web_search": 25}, 0.5, None),
    "gpt-4o-mini": ({"cache_read_input": 0.5}, 0.5, None),
    "claude-3-5-sonnet": (
        {
            "cache_read_input": 0.1,
            "cache_write_5m_input": 1.25,
            "cache_write_1h_input": 2,
            "web_search": 10,
        },
        0.5,
        None,
    ),  # fmt: skip
    "claude-3-5-haiku": ({"cache_read_input": 0.1, "cache_write_5m_input": 1.25}, None, None),
    "gemini-1.5-flash": ({"cache_read_input": 0.25}, None, 128_000),
    "text-embedding-3-small": ({}, 0.5, None),
}
REASONING_MODEL = "openai/o3-mini@2025-01-31"


def rich_catalog(catalog: Catalog) -> Catalog:
    """The seeded catalog's base prices (standard tier, input and output) with RICH's on top
    (per-token extras as a factor of the input rate, per-call ones in USD per 1,000 calls) and a
    reasoning model. Built here, not read from seeds/, so these tests do not depend on what the
    fixtures price beyond input and output."""
    models = []
    for m in catalog.models:
        extras, batch, above = RICH.get(m.name, ({}, None, None))
        rows = []
        for p in m.price_rows:
            if p.service_tier != "standard" or p.above_input_tokens:
                continue  # whatever else the seeds price: these tests set their own
            inp, out = p.rates[0], p.rates[4]
            assert inp is not None and out is not None
            per = {k: (v if k in ("web_search", "tool_call") else inp * Decimal(str(v)))
                   for k, v in extras.items()}  # fmt: skip
            base = _rates(input=inp, output=out, **per)
            rows.append(replace(p, rates=base))
            if batch:
                half = tuple(None if r is None else r * Decimal(str(batch)) for r in base)
                rows.append(replace(p, service_tier="batch", rates=half))
            if above:
                double = tuple(None if r is None else r * 2 for r in base)
                rows.append(replace(p, above_input_tokens=above, rates=double))
        models.append(replace(m, price_rows=tuple(rows)))
    reasoning = _rates(input=1.1, cache_read_input=0.55, output=4.4, reasoning_output=4.4)
    since = datetime(2025, 1, 31, tzinfo=UTC)
    models.append(
        Model(REASONING_MODEL, "o3-mini", 200_000, "active", (
            Price("standard", 0, since, None, reasoning),
            Price("batch", 0, since, None, tuple(r and r / 2 for r in reasoning)),
        ))
    )  # fmt: skip
    return replace(catalog, models=tuple(models))


@pytest.fixture(scope="module")
def rich(catalog: Catalog) -> Catalog:
    return rich_catalog(catalog)


def test_rich_prices_every_row_is_what_the_manifest_says(tmp_path: Path, rich: Catalog) -> None:
    """With caching, batch, reasoning, web search and a context tier priced, the independent
    classifier (costs by lib/pricing's Decimal oracle) agrees with the manifest, every kind
    occurs, and no valid row holds an unpriced category or exceeds the context window."""
    manifest, manifest_path = generate(options(tmp_path / "usage.ndjson", events=20_000), rich)
    window_end = datetime.fromisoformat(manifest["window"]["end"])
    found = classify(all_rows(manifest, manifest_path), rich, window_end)
    totals = manifest["totals"]
    for key, value in totals.items():
        if key.startswith("valid") and key != "valid_by_service_tier":
            assert found[key] == value, key
    assert found["invalid_by_kind"] == totals["invalid_by_kind"]
    assert set(found["invalid_by_kind"]) == set(INVALID_KINDS)
    for f in COUNTS - {"audio_input_tokens", "audio_output_tokens", "image_input_tokens",
                       "image_output_tokens", "tool_calls"}:  # fmt: skip
        assert totals[f"valid_{f}"] > 0, f  # the rich prices make every drawn category occur
    assert set(totals["valid_by_service_tier"]) == {"standard", "batch"}
    again, _ = generate(options(tmp_path / "again.ndjson", events=20_000), rich)
    assert (tmp_path / "again.ndjson").read_bytes() == (tmp_path / "usage.ndjson").read_bytes()


def test_categories_follow_the_prices_and_the_tenant_profiles(
    tmp_path: Path, rich: Catalog
) -> None:
    manifest, manifest_path = generate(
        options(tmp_path / "usage.parquet", events=40_000, invalid_fraction=0), rich
    )
    window_end = datetime.fromisoformat(manifest["window"]["end"])
    valid = [
        r for _, r in all_rows(manifest, manifest_path) if not invalid_kind(r, rich, window_end)
    ]
    assert len(valid) == 40_000
    slug = {o.id: o.slug for o in rich.orgs}
    models = {m.ref: m for m in rich.models}
    profiles = manifest["organization_profiles"]
    assert (
        profiles["acme"]["cache_read_ratio"] > 0.5 and profiles["globex"]["cache_read_ratio"] == 0
    )
    assert profiles["globex"]["batch_share"] > 0 and profiles["acme"]["batch_share"] == 0

    def offers(r: dict[str, Any], key: str) -> bool:
        return price_of(r, rich).rates[[c.key for c in CATEGORIES].index(key)] is not None

    for org in ("acme", "globex"):
        rows = [r for r in valid if slug[r["organization_id"]] == org]
        # cache-hit ratio: prompt tokens read from the cache, on models that price cache reads
        cacheable = [
            r for r in rows if offers(r, "cache_read_input") and r["operation"] != "embeddings"
        ]
        prompt = sum(sum(r[f] for f in INPUT_COUNTS) for r in cacheable)
        ratio = sum(r["cache_read_input_tokens"] for r in cacheable) / prompt
        assert abs(ratio - profiles[org]["cache_read_ratio"]) < 0.05, (org, ratio)
        batchable = [r for r in rows if any(
            p.service_tier == "batch" for p in models[r["model"]].price_rows)]  # fmt: skip
        share = sum(r["service_tier"] == "batch" for r in batchable) / len(batchable)
        assert abs(share - profiles[org]["batch_share"]) < 0.03, (org, share)
        named = {r["service_tier"] for r in rows if r["service_tier"] != "batch"}
        assert named == ({"standard"} if profiles[org]["explicit_tier"] else {None})

    def where(f: str) -> set[str]:
        return {r["model"].split("@")[0] for r in valid if r[f]}

    assert where("reasoning_output_tokens") == {"openai/o3-mini"}
    assert where("cache_write_5m_input_tokens") == {
        "anthropic/claude-3-5-sonnet",
        "anthropic/claude-3-5-haiku",
    }
    assert where("cache_write_1h_input_tokens") == {"anthropic/claude-3-5-sonnet"}
    assert where("web_search_calls") == {"openai/gpt-4o", "anthropic/claude-3-5-sonnet"}
    writes = Counter(
        f
        for r in valid
        for f in ("cache_write_5m_input_tokens", "cache_write_1h_input_tokens")
        if r[f]
    )
    assert writes["cache_write_5m_input_tokens"] > 3 * writes["cache_write_1h_input_tokens"] > 0
    # a few long-document calls cross gemini's context tier (priced as a whole at its rates)
    assert any(
        r["model"].startswith("google/")
        and r["input_tokens"] + r["cache_read_input_tokens"] > 128_000
        for r in valid
    )
    assert all(sum(r[f] for f in INPUT_COUNTS) <= models[r["model"]].context_window for r in valid)
    sent = sum(r["provider_cost_usd"] is not None for r in valid) / len(valid)
    assert 0.2 < sent < 0.3
    assert 0 < manifest["totals"]["valid_provider_cost_discrepancies"] < 0.05 * sent * len(valid)


def test_envelope_1_0_writes_the_same_requests_without_the_new_fields(
    tmp_path: Path, rich: Catalog
) -> None:
    """Old files: `envelope="1.0"` draws the same requests (ids, order, tenants, models) as 1.1,
    whose prompt is the 1.0 input split into categories (but for long-document calls), and
    writes only the 1.0 fields."""
    kinds = "unknown_org,missing_field"  # the kinds both envelopes have
    files = {}
    for env in ("1.0", "1.1"):
        for fmt in ("ndjson", "csv"):
            path = tmp_path / env / f"usage.{fmt}"
            generate(options(path, envelope=env, invalid_kinds=kinds), rich)
            files[env, fmt] = path
    header = files["1.0", "csv"].read_text().splitlines()[0]
    assert header == ",".join(f'"{f}"' for f in ENVELOPE_1_0)
    lines = files["1.0", "ndjson"].read_text().splitlines()
    assert all(set(json.loads(line)) <= set(ENVELOPE_1_0) for line in lines if line.endswith("}"))
    old, new = read_rows(files["1.0", "ndjson"]), read_rows(files["1.1", "ndjson"])
    assert len(old) == len(new) == 6_000
    same_prompt = 0
    for a, b in zip(old, new, strict=True):
        assert isinstance(a, dict) and isinstance(b, dict)
        assert (a["event_id"], a["organization_id"], a["model"]) == (
            b["event_id"],
            b["organization_id"],
            b["model"],
        )
        assert not any(a[f] for f in COUNTS - {"input_tokens", "output_tokens"})
        assert a["service_tier"] is None and a["provider_cost_usd"] is None
        if a["input_tokens"] is not None and b["input_tokens"] is not None:  # not missing_field
            same_prompt += a["input_tokens"] == sum(b[f] for f in INPUT_COUNTS)
    assert same_prompt > 0.99 * len(old)
    assert read_rows(files["1.1", "csv"]) == new


MEMORY_PROBE = """
import json, re, sys
from datetime import date
from pathlib import Path
from dagster_project.lib.generate import GenerateOptions, generate_usage, load_catalog
def peak_kib():  # VmHWM: this process image's peak RSS (ru_maxrss would include the parent's)
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
catalog = load_catalog()
before = peak_kib()
options = GenerateOptions(output=Path(sys.argv[1]), start=date(2026, 11, 16), events=int(sys.argv[2]),
                          days=int(sys.argv[3]))
manifest = generate_usage(options, catalog)
after = peak_kib()
print(json.dumps({"rows": manifest["totals"]["rows"], "grew_kib": after - before}))
"""


@pytest.mark.slow
def test_a_million_events_stream_with_flat_memory(tmp_path: Path) -> None:
    """Peak memory does not follow the file size: 1M rows over 4 days against 250k rows over
    1 day, the same hourly rate (each run a fresh process, measured by its VmHWM). Timing is
    in the benchmark note (docs/performance.md), not asserted here."""

    def run(rows: int, days: int) -> dict[str, int]:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_PROBE,
                str(tmp_path / f"{rows}.ndjson"),
                str(rows),
                str(days),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)

    small, large = run(250_000, 1), run(1_000_000, 4)
    assert large["rows"] == 1_000_000
    with open(tmp_path / "1000000.ndjson", "rb") as f:
        assert sum(1 for _ in f) == 1_000_000
    # 4x the rows and file size (~450 MB), not 4x the memory: the allocator's high-water mark
    # settles around 200 MiB in envelope 1.1 (measured: 153 at 250k, 201 at 1M, 205 at 4M rows).
    assert large["grew_kib"] < 1.6 * small["grew_kib"]
    assert large["grew_kib"] < 256 * 1024
