"""Envelope 1.1 through the whole ingestion path, against real PostgreSQL: every category is costed
at the right price row (service tier, price version, context tier), exactly as an independent
Python Decimal computation says; impossible combinations are quarantined with their reason; an
envelope-1.0 file stores what it always did; the provider's cost is kept exactly; CSV and Parquet
carry the new columns; metadata reaches app.usage_events as sent (up to jsonb's normalisation).

The price table (model CAT_MODEL, context window 200,000 tokens), relative to the database's
now() at world creation (N) and a price change at C = the start of N's hour - 2 h + 20 min 17.25 s
(mid-hour):
  standard, above 0        [N - 30 d, C)  every category          (version 1)
  standard, above 0        [C, open)      every category, new     (version 2)
  standard, above 128,000  [N - 30 d, open) every category, long context
  batch,    above 0        [N - 30 d, open) no audio, no image
  flex,     above 0        [N - 30 d, open) no web search
  priority: none (no_price)
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_helpers import (
    MODEL,
    event,
    make_world,
    quarantine,
    test_config,
    write_ndjson,
)

from dagster_project.lib.ingest import ingest_file

CAT_MODEL_ID = "1d000000-0000-4000-8000-0000000000c1"
CAT_MODEL = "acme/categorical@1"
CONTEXT_WINDOW = 200_000
LONG_CONTEXT = 128_000
# (key, count field, rate column, unit), in the contract's order; independent of lib/pricing.
CATS = [
    ("input", "input_tokens", "input_usd_per_mtok", 10**6),
    ("cache_read_input", "cache_read_input_tokens", "cache_read_input_usd_per_mtok", 10**6),
    ("cache_write_5m_input", "cache_write_5m_input_tokens", "cache_write_5m_input_usd_per_mtok", 10**6),
    ("cache_write_1h_input", "cache_write_1h_input_tokens", "cache_write_1h_input_usd_per_mtok", 10**6),
    ("output", "output_tokens", "output_usd_per_mtok", 10**6),
    ("reasoning_output", "reasoning_output_tokens", "reasoning_output_usd_per_mtok", 10**6),
    ("audio_input", "audio_input_tokens", "audio_input_usd_per_mtok", 10**6),
    ("audio_output", "audio_output_tokens", "audio_output_usd_per_mtok", 10**6),
    ("image_input", "image_input_tokens", "image_input_usd_per_mtok", 10**6),
    ("image_output", "image_output_tokens", "image_output_usd_per_mtok", 10**6),
    ("web_search", "web_search_calls", "web_search_usd_per_kcall", 10**3),
    ("tool_call", "tool_calls", "tool_call_usd_per_kcall", 10**3),
]  # fmt: skip
INPUTS = {"input", "cache_read_input", "cache_write_5m_input", "cache_write_1h_input",
          "audio_input", "image_input"}  # fmt: skip
COST_COLUMNS = [f"{key}_cost_usd" for key, *_ in CATS]
COUNT_FIELDS = [count for _, count, _, _ in CATS]


def _rates(base: str, *, missing: tuple[str, ...] = ()) -> dict[str, Decimal | None]:
    """Rates with six decimal places (so rounding to 10 places matters), some NULL."""
    step = Decimal(base)
    return {rate: None if key in missing else (step * (i + 1) + Decimal("0.000001") * (7 * i + 3))
            for i, (key, _, rate, _) in enumerate(CATS)}  # fmt: skip


def _price_rows(now: datetime, change: datetime) -> list[dict]:
    start = now - timedelta(days=30)
    return [
        dict(service_tier="standard", above=0, start=start, end=change, rates=_rates("0.25")),
        dict(service_tier="standard", above=0, start=change, end=None, rates=_rates("0.2")),
        dict(service_tier="standard", above=LONG_CONTEXT, start=start, end=None, rates=_rates("0.5")),
        dict(service_tier="batch", above=0, start=start, end=None,
             rates=_rates("0.125", missing=("audio_input", "audio_output", "image_input", "image_output"))),
        dict(service_tier="flex", above=0, start=start, end=None, rates=_rates("0.15", missing=("web_search",))),
    ]  # fmt: skip


class World:
    def __init__(self, url: str) -> None:
        self.url = url
        self.now = make_world(url)
        self.change = (self.now.replace(minute=0, second=0, microsecond=0)
                       - timedelta(hours=2) + timedelta(minutes=20, seconds=17.25))  # fmt: skip
        self.prices = _price_rows(self.now, self.change)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO app.model_registry (id, provider, model_name, version, context_window) "
                "VALUES (%s, 'acme', 'categorical', '1', %s)", (CAT_MODEL_ID, CONTEXT_WINDOW))  # fmt: skip
            rate_columns = [rate for _, _, rate, _ in CATS]
            for row in self.prices:
                (row["id"],) = conn.execute(
                    f"INSERT INTO app.model_prices (model_id, service_tier, above_input_tokens, "
                    f"effective_from, effective_to, {', '.join(rate_columns)}) VALUES "
                    f"(%s, %s, %s, %s, %s, {', '.join(['%s'] * len(rate_columns))}) RETURNING id",
                    (CAT_MODEL_ID, row["service_tier"], row["above"], row["start"], row["end"],
                     *(row["rates"][r] for r in rate_columns)),
                ).fetchone()  # fmt: skip

    def expect(self, e: dict) -> tuple[str, dict]:
        """The oracle: ('accepted', stored values) or (reason, {}), from the contract's rule."""
        counts = {count: e.get(count) or 0 for count in COUNT_FIELDS}
        total_input = sum(counts[count] for key, count, _, _ in CATS if key in INPUTS)
        tier = e.get("service_tier") or "standard"
        at = datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
        rows = [r for r in self.prices if r["service_tier"] == tier and r["start"] <= at
                and (r["end"] is None or at < r["end"])
                and (r["above"] == 0 or total_input > r["above"])]  # fmt: skip
        if not rows:
            return "no_price", {}
        if total_input > CONTEXT_WINDOW:
            return "exceeds_context_window", {}
        row = max(rows, key=lambda r: r["above"])
        costs = {}
        for key, count, rate_column, unit in CATS:
            rate, n = row["rates"][rate_column], counts[count]
            if n and rate is None:
                return "unpriced_category", {}
            exact = Decimal(0) if n == 0 else Decimal(n) * rate / unit
            costs[f"{key}_cost_usd"] = exact.quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)
        computed = sum(costs.values(), Decimal(0))
        provider = e.get("provider_cost_usd")
        cost = computed if provider is None else Decimal(str(provider)).quantize(
            Decimal("1e-10"), rounding=ROUND_HALF_UP)  # fmt: skip
        return "accepted", dict(
            price_id=row["id"], service_tier=tier, cost_usd=cost, **costs, **counts,
            cost_source="computed" if provider is None else "provider",
        )  # fmt: skip


@pytest.fixture(scope="module")
def world(operational_databases) -> Iterator[World]:
    url = operational_databases.create()
    yield World(url)
    operational_databases.drop(url)


def stored_events(url: str, event_ids: list[str]) -> dict[str, dict]:
    columns = ["price_id", "service_tier", "cost_usd", "cost_source", *COST_COLUMNS, *COUNT_FIELDS]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT event_id, {', '.join(columns)} FROM app.usage_events WHERE event_id = ANY(%s)",
            (event_ids,),
        ).fetchall()
    return {r[0]: dict(zip(columns, r[1:], strict=True)) for r in rows}


def quarantined(url: str, event_ids: list[str]) -> dict[str, tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT event_id, reason, detail FROM ingest.quarantine WHERE event_id = ANY(%s)",
            (event_ids,),
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def cat_event(world: World, at: datetime, **fields) -> dict:
    fields.setdefault("event_id", f"cat-{uuid.uuid4()}")
    return event(0, model=CAT_MODEL, occurred_at=iso_us(at), **fields)


def iso_us(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def ingest(world: World, path: Path):
    result = ingest_file(path, database_url=world.url,
                         config=test_config(path.parent, max_event_age_days=30))  # fmt: skip
    assert result.state == "loaded", result.error
    return result


def check(world: World, sent: list[dict]) -> None:
    """Every event stored or quarantined exactly as the oracle says."""
    ids = [e["event_id"] for e in sent]
    got, held = stored_events(world.url, ids), quarantined(world.url, ids)
    for e in sent:
        outcome, values = world.expect(e)
        if outcome == "accepted":
            assert e["event_id"] not in held, (e, held.get(e["event_id"]))
            assert got[e["event_id"]] == values, e
        else:
            assert e["event_id"] not in got, e
            assert held[e["event_id"]][0] == outcome, (e, held[e["event_id"]])


# -- the property ----------------------------------------------------------------------------------

counts = st.one_of(st.just(0), st.integers(1, 5_000), st.integers(0, 2_000_000))


@st.composite
def category_events(draw, world: World) -> dict:
    fields: dict = {}
    for _, count, _, _ in CATS:
        if draw(st.integers(0, 3)) == 0:  # a quarter of the categories present per event
            fields[count] = draw(counts)
    fields.setdefault("input_tokens", 0)
    fields.setdefault("output_tokens", 0)
    if draw(st.booleans()):  # a context-tier boundary: exactly at the threshold, or one above
        others = sum(fields.get(c, 0) for k, c, _, _ in CATS if k in INPUTS and c != "input_tokens")
        fields["input_tokens"] = max(
            0, LONG_CONTEXT + draw(st.sampled_from([-1, 0, 1, 2])) - others
        )
    tier = draw(st.sampled_from([None, "standard", "batch", "flex", "priority", ...]))
    if tier is not ...:
        fields["service_tier"] = tier
    # around the mid-hour price change (a microsecond either side, or exactly on it), or anywhere
    # in the hours around it
    offset = draw(st.one_of(
        st.sampled_from([timedelta(microseconds=-1), timedelta(0), timedelta(microseconds=1)]),
        st.integers(-3600 * 3, 3600 * 1).map(lambda s: timedelta(seconds=s, microseconds=137)),
    ))  # fmt: skip
    if draw(st.integers(0, 4)) == 0:
        fields["provider_cost_usd"] = draw(st.one_of(
            st.decimals(0, Decimal("99999999.99"), places=draw(st.integers(0, 14))).map(
                lambda d: format(d, "f")),
            st.integers(0, 10**6), st.sampled_from([0.1, 1.25e-3, 0.0]),
        ))  # fmt: skip
    return cat_event(world, world.change + offset, **fields)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_ingested_costs_equal_an_independent_decimal_computation(world, tmp_path_factory, data):
    sent = data.draw(st.lists(category_events(world), min_size=1, max_size=25))
    path = write_ndjson(Path(tmp_path_factory.mktemp("cat")) / "events.ndjson", sent)
    ingest(world, path)
    check(world, sent)


def test_the_boundaries_one_by_one(world, tmp_path):
    """The cases the property must reach, written out: the price change mid-hour and the
    context tier, exactly at the threshold (still the base tier) and one token above it."""
    c = world.change
    sent = [
        cat_event(world, c - timedelta(microseconds=1), input_tokens=1000, output_tokens=10),
        cat_event(world, c, input_tokens=1000, output_tokens=10),
        cat_event(world, c, input_tokens=LONG_CONTEXT - 100, cache_read_input_tokens=100),
        cat_event(world, c, input_tokens=LONG_CONTEXT - 100, cache_read_input_tokens=101),
        cat_event(world, c - timedelta(hours=1), input_tokens=LONG_CONTEXT + 1, output_tokens=7,
                  reasoning_output_tokens=3, web_search_calls=2, tool_calls=1),
    ]  # fmt: skip
    ingest(world, write_ndjson(tmp_path / "edges.ndjson", sent))
    check(world, sent)
    got = stored_events(world.url, [e["event_id"] for e in sent])
    ids = [got[e["event_id"]]["price_id"] for e in sent]
    old, new, long = (r["id"] for r in world.prices[:3])
    assert ids == [old, new, new, long, long]


# -- quarantine ------------------------------------------------------------------------------------


def test_impossible_combinations_are_quarantined_with_their_reason(world, tmp_path):
    at = world.change + timedelta(minutes=5)
    cases = [
        (cat_event(world, at, input_tokens=150_000, cache_read_input_tokens=50_001),
         "exceeds_context_window", "a total input of 200001 tokens is more than"),
        (cat_event(world, at, service_tier="priority"), "no_price", "has no priority price"),
        (cat_event(world, at, service_tier="batch", audio_input_tokens=1), "unpriced_category",
         f"audio_input: no rate in price {world.prices[3]['id']}"),
        (cat_event(world, at, service_tier="flex", web_search_calls=1, audio_output_tokens=0),
         "unpriced_category", "web_search"),
        (cat_event(world, at, provider_cost_usd="99999999.99999999995"), "invalid_value",
         "provider_cost_usd rounded to 10 places exceeds numeric(18,10)"),
        (cat_event(world, at, provider_cost_usd=-0.5), "invalid_value", "below the minimum 0"),
        (cat_event(world, at, provider_cost_usd="1e-3"), "invalid_value", "does not match"),
        (cat_event(world, at, service_tier="Standard"), "invalid_value", "is not one of"),
        (cat_event(world, at, cache_read_input_tokens=-1), "invalid_value", "below the minimum"),
        (cat_event(world, at, tool_calls=1.5), "invalid_type", "expected integer"),
    ]  # fmt: skip
    ingest(world, write_ndjson(tmp_path / "bad.ndjson", [e for e, _, _ in cases]))
    held = quarantined(world.url, [e["event_id"] for e, _, _ in cases])
    for e, reason, detail in cases:
        assert held[e["event_id"]][0] == reason, (e, held[e["event_id"]])
        assert detail in held[e["event_id"]][1], held[e["event_id"]]


# -- envelope 1.0, provider cost, formats, metadata -------------------------------------------------


def test_an_envelope_1_0_file_stores_what_it_always_did(world, tmp_path):
    """gpt-4o in the shared world has input/output rates only (1.25 and 5 per Mtok now): the
    same cost as before, now split, with its price version and cost_source computed."""
    sent = [event(n, event_id=f"old-{n}") for n in range(3)]
    ingest(world, write_ndjson(tmp_path / "old.ndjson", sent))
    with psycopg.connect(world.url) as conn:
        (price_id,) = conn.execute(
            "SELECT p.id FROM app.model_prices p JOIN app.model_registry m ON m.id = p.model_id "
            "WHERE m.model_name = 'gpt-4o' AND p.effective_to IS NULL").fetchone()  # fmt: skip
    got = stored_events(world.url, [e["event_id"] for e in sent])
    for e in sent:
        row = got[e["event_id"]]
        i = Decimal(e["input_tokens"]) * Decimal("1.25") / 10**6
        o = Decimal(e["output_tokens"]) * Decimal("5") / 10**6
        assert row["price_id"] == price_id and row["service_tier"] == "standard"
        assert row["cost_source"] == "computed"
        assert (row["input_cost_usd"], row["output_cost_usd"], row["cost_usd"]) == (i, o, i + o)
        assert all(
            row[c] == 0 for c in COST_COLUMNS if c not in ("input_cost_usd", "output_cost_usd")
        )
        assert all(row[c] == 0 for c in COUNT_FIELDS if c not in ("input_tokens", "output_tokens"))


def test_the_providers_cost_is_stored_exactly(world, tmp_path):
    at = world.change + timedelta(minutes=1)
    figures = [
        "12345678.1234567891",  # 18 significant digits: no double holds it
        "0.00000000005",  # rounds half away from zero to 1e-10
        "0.000000000049999999",  # ... and this one to 0
        "7",
    ]
    sent = [cat_event(world, at, input_tokens=10, provider_cost_usd=f) for f in figures]
    # a JSON number, written with more digits than a double keeps
    lines = [json.dumps(e) for e in sent]
    number = cat_event(world, at, input_tokens=10, metadata={"provider_cost_usd": 5})
    lines.append(json.dumps(number)[:-1] + ', "provider_cost_usd": 0.10000000000000000555}')
    ingest(world, write_ndjson(tmp_path / "provider.ndjson", lines))
    ids = [e["event_id"] for e in sent] + [number["event_id"]]
    got = stored_events(world.url, ids)
    assert [got[i]["cost_usd"] for i in ids] == [
        Decimal("12345678.1234567891"),
        Decimal("1E-10"),
        Decimal(0),
        Decimal(7),
        Decimal("0.1"),
    ]
    assert {got[i]["cost_source"] for i in ids} == {"provider"}
    # the category costs are still ours
    assert {got[i]["input_cost_usd"] for i in ids} == {world.expect(sent[0])[1]["input_cost_usd"]}


NEW_FIELDS = [*COUNT_FIELDS[1:4], "reasoning_output_tokens", "web_search_calls", "service_tier",
              "provider_cost_usd"]  # fmt: skip
FIELDS = ["event_id", "organization_id", "user_id", "api_key_id", "model", "operation",
          "occurred_at", "input_tokens", "output_tokens", "latency_ms", "status", "error_code",
          "metadata", *NEW_FIELDS]  # fmt: skip


def _format_events(world: World, prefix: str) -> list[dict]:
    at = world.change + timedelta(minutes=2)
    return [
        cat_event(world, at, event_id=f"{prefix}-1", cache_read_input_tokens=900,
                  cache_write_5m_input_tokens=50, reasoning_output_tokens=40, web_search_calls=3,
                  service_tier="standard", provider_cost_usd="0.0123456789012"),
        cat_event(world, at, event_id=f"{prefix}-2", cache_write_1h_input_tokens=7,
                  service_tier="batch"),
        cat_event(world, at, event_id=f"{prefix}-3"),  # every new field empty: 0 / standard / none
    ]  # fmt: skip


def test_a_csv_file_with_the_new_columns(world, tmp_path):
    sent = _format_events(world, "csv")
    path = tmp_path / "cats.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for e in sent:
            writer.writerow({k: v for k, v in e.items() if k in FIELDS})
    result = ingest(world, path)
    assert (result.accepted, result.quarantined) == (3, 0)
    check(world, sent)


def test_a_parquet_file_with_the_new_columns(world, tmp_path):
    sent = _format_events(world, "parquet")
    ints = {"input_tokens", "output_tokens", "latency_ms", *COUNT_FIELDS}
    schema = pa.schema([(f, pa.int64() if f in ints else pa.string()) for f in FIELDS])
    rows = [{f: e.get(f) for f in FIELDS} for e in sent]
    path = tmp_path / "cats.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema), path)
    result = ingest(world, path)
    assert (result.accepted, result.quarantined) == (3, 0)
    check(world, sent)
    # a decimal column holds the provider's cost as a number: exact too
    decimal_rows = [dict(r, event_id=r["event_id"] + "-dec") for r in rows]
    schema = schema.set(schema.get_field_index("provider_cost_usd"),
                        pa.field("provider_cost_usd", pa.decimal128(30, 15)))  # fmt: skip
    for r in decimal_rows:
        r["provider_cost_usd"] = (
            None if r["provider_cost_usd"] is None else Decimal(r["provider_cost_usd"])
        )
    pq.write_table(pa.Table.from_pylist(decimal_rows, schema), path)
    ingest(world, path)
    got = stored_events(world.url, ["parquet-1-dec"])
    assert got["parquet-1-dec"]["cost_usd"] == Decimal("0.0123456789")  # 0.0123456789|012


def test_metadata_reaches_the_event_as_sent(world, tmp_path):
    """A provider's raw usage payload, numbers and all: what jsonb makes of the text sent (1.50
    stays 1.50, 1e2 is 100, big integers and long fractions keep every digit), not a double's."""
    texts = [
        '{"usage": {"prompt_tokens": 1200, "cost": 1.50, "ratio": 1e2, "tiny": 1.0E-7, '
        '"big": 123456789012345678901234567890, "long": 0.1000000000000000055511151231257827, '
        '"neg": -0.0, "list": [1.0, 2, 3.25]}, "note": "v1.2 \\"quoted\\" 3.0"}',
        '{"sdk": "py", "n": 12, "big": -9223372036854775809}',  # no fraction: DuckDB's rendering
        '{"a": {"b": {"c": 2.500}}, "a2": "x"}',
    ]
    sent = [cat_event(world, world.change, event_id=f"meta-{i}") for i in range(len(texts))]
    lines = [json.dumps(e)[:-1] + f', "metadata": {t}}}' for e, t in zip(sent, texts, strict=True)]
    ingest(world, write_ndjson(tmp_path / "meta.ndjson", lines))
    with psycopg.connect(world.url) as conn:
        for e, text in zip(sent, texts, strict=True):
            stored, expected = conn.execute(
                "SELECT metadata::text, %s::jsonb::text FROM app.usage_events WHERE event_id = %s",
                (text, e["event_id"]),
            ).fetchone()
            assert stored == expected
    with psycopg.connect(world.url) as conn:
        (first,) = conn.execute("SELECT metadata::text FROM app.usage_events WHERE event_id = %s",
                                (sent[0]["event_id"],)).fetchone()  # fmt: skip
    assert '"cost": 1.50' in first and '"ratio": 100' in first
    assert '"long": 0.1000000000000000055511151231257827' in first


def test_an_unpriced_category_names_the_category_and_the_price_version(world, tmp_path):
    """The old world's model (input/output rates only) with a cached read: unpriced_category
    names the category and the price id."""
    e = event(1, event_id="unpriced-1", model=MODEL, cache_read_input_tokens=10)
    ingest(world, write_ndjson(tmp_path / "u.ndjson", [e]))
    ((_, reason, detail, _, _),) = [q for q in quarantine(world.url) if q[3] == json.dumps(e)]
    assert reason == "unpriced_category" and detail.startswith(
        "cache_read_input: no rate in price "
    )
