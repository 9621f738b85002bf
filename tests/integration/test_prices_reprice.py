"""`platformctl prices` against real PostgreSQL (template clones, no mocks): reprice changes
exactly what the contract says (docs/pricing.md "Repricing"), and the costs equal an independent
Python computation of the costing rule (lib/pricing/categories.category_cost is not used for the
expectation: the oracle below follows the contract's text)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from dagster_project.cli import app
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.pricing.categories import CATEGORIES
from dagster_project.lib.pricing.reprice import reprice
from dagster_project.lib.pricing.versions import correct_price

ORG_A = uuid.UUID("2a000000-0000-4000-8000-00000000000a")
ORG_B = uuid.UUID("2b000000-0000-4000-8000-00000000000b")
M1 = uuid.UUID("2d000000-0000-4000-8000-0000000000d1")  # the model we reprice
M2 = uuid.UUID("2d000000-0000-4000-8000-0000000000d2")  # another model, never touched
M1_REF, M2_REF = "acme-ai/m1@1", "acme-ai/m2@1"
TIER = 1000  # M1's context tier: a call with more than 1000 input tokens

COUNTS = [c.count for c in CATEGORIES]
COSTS = [c.cost for c in CATEGORIES]
RATES = [c.rate for c in CATEGORIES]
UNIT = {c.count: c.unit for c in CATEGORIES}
INPUTS = [c.count for c in CATEGORIES if c.is_input]
Q = Decimal("1e-10")


def base_rates(scale: str) -> dict[str, Decimal]:
    s = Decimal(scale)
    return {r: (Decimal(i + 1) * s).quantize(Decimal("1e-6")) for i, r in enumerate(RATES)}


def setup_world(url: str) -> datetime:
    """Two organizations, two models; M1 has a standard base version, a >1000-token tier and a
    batch version, all from 30 days ago, open. Returns the UTC midnight two days ago (the events'
    day). Partitions exist for it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO app.organizations (id, slug, name) VALUES (%s, 'pa', 'A'), (%s, 'pb', 'B')",
            (ORG_A, ORG_B),
        )
        conn.execute(
            "INSERT INTO app.model_registry (id, provider, model_name, version, context_window)"
            " VALUES (%s, 'acme-ai', 'm1', '1', 1000000), (%s, 'acme-ai', 'm2', '1', 1000000)",
            (M1, M2),
        )
        day = conn.execute("SELECT date_trunc('day', now(), 'UTC') - interval '2 days'").fetchone()[
            0
        ]
        conn.execute("SELECT app.ensure_usage_partitions(%s::date, %s::date)",
                     (day - timedelta(days=1), day + timedelta(days=2)))  # fmt: skip
        for model, tier, above, scale in (
            (M1, "standard", 0, "0.5"), (M1, "standard", TIER, "1.1"),
            (M1, "batch", 0, "0.25"), (M2, "standard", 0, "0.3"),
        ):  # fmt: skip
            rates = base_rates(scale)
            cols = ", ".join(rates)
            conn.execute(
                f"INSERT INTO app.model_prices (model_id, effective_from, service_tier,"
                f" above_input_tokens, {cols}) VALUES (%s, %s, %s, %s{', %s' * len(rates)})",
                (model, day - timedelta(days=30), tier, above, *rates.values()),
            )
    return day


def prices(conn: psycopg.Connection) -> list[dict]:
    cur = conn.execute("SELECT * FROM app.model_prices")
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def oracle(event: dict, versions: list[dict]) -> tuple[int, dict[str, Decimal]]:
    """The contract's rule, written independently: (price id, category costs)."""
    total_input = sum(event[c] for c in INPUTS)
    candidates = [
        p for p in versions
        if p["model_id"] == event["model_id"] and p["service_tier"] == event["service_tier"]
        and p["superseded_at"] is None and p["effective_from"] <= event["occurred_at"]
        and (p["effective_to"] is None or event["occurred_at"] < p["effective_to"])
        and (p["above_input_tokens"] == 0 or total_input > p["above_input_tokens"])
    ]  # fmt: skip
    price = max(candidates, key=lambda p: p["above_input_tokens"])
    costs = {}
    for count, cost, rate in zip(COUNTS, COSTS, RATES, strict=True):
        n = event[count]
        exact = Decimal(n) * price[rate] / UNIT[count] if n else Decimal(0)
        costs[cost] = exact.quantize(Q, rounding=ROUND_HALF_UP)
    return price["id"], costs


def insert_events(url: str, events: list[dict], *, costed: bool) -> None:
    """As the superuser, like the analytics seed. costed=False stores every cost as 0 under an
    arbitrary version of the model (what a reprice must fix); True stores the oracle's costs."""
    with psycopg.connect(url) as conn:
        versions = prices(conn)
        rows = []
        for e in events:
            price_id, costs = oracle(e, versions)
            if not costed:
                price_id = min(p["id"] for p in versions if p["model_id"] == e["model_id"])
                costs = dict.fromkeys(COSTS, Decimal(0))
            provider = e.get("provider_cost_usd")
            rows.append({**e, **costs, "price_id": price_id,
                         "cost_source": "provider" if provider is not None else "computed",
                         "cost_usd": provider if provider is not None else sum(costs.values())})  # fmt: skip
        conn.execute(
            f"""INSERT INTO app.usage_events (occurred_at, received_at, organization_id, model_id,
                    latency_ms, event_id, operation, status, service_tier, price_id, cost_source,
                    cost_usd, {", ".join(COUNTS)}, {", ".join(COSTS)})
                SELECT r.occurred_at, r.occurred_at, r.organization_id, r.model_id, 10, r.event_id,
                       'chat.completions', 'success', r.service_tier, r.price_id, r.cost_source,
                       r.cost_usd, {", ".join("r." + c for c in COUNTS + COSTS)}
                FROM jsonb_populate_recordset(NULL::app.usage_events, %s) AS r""",
            (
                Jsonb(
                    [
                        {
                            k: (str(v) if isinstance(v, (Decimal, uuid.UUID, datetime)) else v)
                            for k, v in r.items()
                        }
                        for r in rows
                    ]
                ),
            ),  # fmt: skip
        )


def make_event(n: int, when: datetime, *, org=ORG_A, model=M1, tier="standard", **counts) -> dict:
    event = dict.fromkeys(COUNTS, 0)
    event.update(input_tokens=100 + n, output_tokens=50 + n % 7)
    event.update(counts)
    return {"event_id": f"r-{n:05d}", "occurred_at": when, "organization_id": org,
            "model_id": model, "service_tier": tier, **event}  # fmt: skip


def sample_events(day: datetime) -> list[dict]:
    out = []
    for n in range(60):
        out.append(make_event(
            n, day + timedelta(hours=n % 6, minutes=n), org=(ORG_A, ORG_B)[n % 2],
            model=(M1, M1, M2)[n % 3], tier="batch" if n % 5 == 0 and n % 3 != 2 else "standard",
            cache_read_input_tokens=(n * 37) % 900, reasoning_output_tokens=n * 3,
            web_search_calls=n % 3, audio_input_tokens=1000 if n % 11 == 0 else 0,
        ))  # fmt: skip
    out[7]["provider_cost_usd"] = Decimal("0.123456789012")
    return out


def snapshot(url: str) -> dict[str, list]:
    """Every event (all columns), every rollup row, the touched hours and the audit count."""
    with psycopg.connect(url) as conn:
        return {
            "events": conn.execute("SELECT event_id, organization_id, occurred_at, e.* FROM app.usage_events e ORDER BY 1, 2, 3").fetchall(),
            "hourly": conn.execute("SELECT * FROM app.usage_hourly ORDER BY 1, 2, 3").fetchall(),
            "daily": conn.execute("SELECT * FROM app.usage_daily ORDER BY 1, 2, 3").fetchall(),
            "touched": conn.execute("SELECT * FROM ingest.touched_event_hours ORDER BY 1, 2").fetchall(),
            "audit": conn.execute("SELECT count(*) FROM app.audit_log").fetchall(),
            "prices": conn.execute("SELECT * FROM app.model_prices ORDER BY id").fetchall(),
        }  # fmt: skip


ROLLUP_SUMS = (
    "count(*), count(*) FILTER (WHERE status = 'error'), sum(cost_usd), "
    + ", ".join(f"sum({c})" for c in COUNTS + COSTS)
    + ", count(*) FILTER (WHERE cost_source = 'provider')"
)


def assert_rollups_match_events(url: str) -> None:
    cols = "requests, errors, cost_usd, " + ", ".join(COUNTS + COSTS) + ", provider_cost_requests"
    with psycopg.connect(url) as conn:
        for table, bucket in (
            ("usage_hourly", "date_bin('1 hour', occurred_at, '2000-01-01 00:00:00+00')"),
            ("usage_daily", "(occurred_at AT TIME ZONE 'UTC')::date"),
        ):
            key = "hour" if table == "usage_hourly" else "day"
            stored = conn.execute(
                f"SELECT organization_id, {key}, model_id, {cols} FROM app.{table} ORDER BY 1, 2, 3"
            ).fetchall()
            recomputed = conn.execute(
                f"SELECT organization_id, {bucket}, model_id, {ROLLUP_SUMS} FROM app.usage_events"
                " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            ).fetchall()
            assert stored == recomputed, table


def assert_events_match_oracle(url: str, model=None, start=None, end=None) -> None:
    with psycopg.connect(url) as conn:
        versions = prices(conn)
        cur = conn.execute("SELECT * FROM app.usage_events")
        names = [d.name for d in cur.description]
        for row in cur.fetchall():
            e = dict(zip(names, row, strict=True))
            if model and e["model_id"] != model:
                continue
            if start and not start <= e["occurred_at"] < end:
                continue
            price_id, costs = oracle(e, versions)
            assert e["price_id"] == price_id, e["event_id"]
            assert {c: e[c] for c in COSTS} == costs, e["event_id"]
            if e["cost_source"] == "computed":
                assert e["cost_usd"] == sum(costs.values())


@pytest.fixture
def world(operational_db_url):
    day = setup_world(operational_db_url)
    insert_events(operational_db_url, sample_events(day), costed=True)
    return operational_db_url, day


def version_id(url: str, model, tier="standard", above=0) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id FROM app.model_prices WHERE model_id = %s AND service_tier = %s"
            " AND above_input_tokens = %s AND superseded_at IS NULL", (model, tier, above),
        ).fetchone()[0]  # fmt: skip


def test_correctly_costed_events_need_no_reprice_and_the_sql_agrees_with_the_oracle(world):
    url, day = world
    assert_events_match_oracle(url)
    before = snapshot(url)
    report = reprice(url, M1_REF, day - timedelta(days=1), day + timedelta(days=1))
    assert report.events_in_range == 40 and report.events_changed == 0 and report.audit_id is None
    assert snapshot(url) == before


def test_dry_run_changes_nothing_and_prints_the_real_runs_figures(world):
    url, day = world
    with psycopg.connect(url) as conn:
        correct_price(conn, version_id(url, M1), {"output_usd_per_mtok": Decimal("9")}, "typo")
        conn.commit()
    before = snapshot(url)
    start, end = day, day + timedelta(hours=3)
    dry = reprice(url, M1_REF, start, end, dry_run=True)
    assert snapshot(url) == before
    assert dry.events_changed > 0
    real = reprice(url, M1_REF, start, end)
    for figure in ("events_in_range", "events_changed", "cost_before", "cost_after", "hours"):
        assert getattr(dry, figure) == getattr(real, figure), figure


def test_a_correction_then_reprice_changes_exactly_the_events_in_range(world):
    url, day = world
    old_id = version_id(url, M1)
    with psycopg.connect(url) as conn:
        old, new = correct_price(
            conn, old_id,
            {"cache_read_input_usd_per_mtok": Decimal("0.05"), "output_usd_per_mtok": Decimal("7.5")},
            "cache read was billed at the input rate",
        )  # fmt: skip
        conn.commit()
    assert new.corrects == old_id and old.id == old_id
    # A correction alone changes no stored cost.
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM app.usage_events WHERE price_id = %s",
                            (old_id,)).fetchone()[0] > 0  # fmt: skip
    before = {r[0]: r for r in snapshot(url)["events"]}  # by event_id
    start, end = day + timedelta(hours=1), day + timedelta(hours=4)

    report = reprice(url, M1_REF, start, end)

    after = {r[0]: r for r in snapshot(url)["events"]}
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT e.event_id, e.occurred_at, e.model_id, e.price_id, e.service_tier,"
                           " above_input_tokens FROM app.usage_events e"
                           " JOIN app.model_prices p ON p.id = e.price_id")  # fmt: skip
        info = {r[0]: r for r in cur.fetchall()}
        touched = conn.execute("SELECT organization_id, event_hour, rows_added, last_batch_id"
                               " FROM ingest.touched_event_hours ORDER BY 1, 2").fetchall()  # fmt: skip
        audit = conn.execute("SELECT actor_type, action, target_id, before_state, after_state,"
                             " metadata FROM app.audit_log WHERE action = 'prices.reprice'").fetchall()  # fmt: skip
    changed = {k for k in before if before[k] != after[k]}
    expected = {
        k for k, (_, when, model, _, tier, above) in info.items()
        if model == M1 and start <= when < end and tier == "standard" and above == 0
    }  # fmt: skip
    assert changed == expected and len(changed) == report.events_changed > 0
    assert all(info[k][3] == new.id for k in changed)
    assert_events_match_oracle(url, model=M1, start=start, end=end)
    assert_rollups_match_events(url)
    # Touched hours: exactly the (organization, hour) pairs of the re-costed events.
    hours = {}
    for k in changed:
        key = (after[k][1], after[k][2].replace(minute=0, second=0, microsecond=0))
        hours[key] = hours.get(key, 0) + 1
    assert {(o, h): (n, b) for o, h, n, b in touched} == {k: (n, 0) for k, n in hours.items()}
    # One audit row with the before/after totals.
    assert len(audit) == 1
    actor_type, action, target, before_state, after_state, metadata = audit[0]
    assert (actor_type, action, target) == ("system", "prices.reprice", M1_REF)
    assert Decimal(metadata["cost_before_usd"]) == report.cost_before
    assert Decimal(after_state["cost_usd"]) == report.cost_after != report.cost_before
    assert metadata["events_changed"] == report.events_changed
    assert before_state["price_ids"] == [old_id] and after_state["price_ids"] == [new.id]

    # Twice: nothing to change, no audit row, nothing written.
    again_before = snapshot(url)
    again = reprice(url, M1_REF, start, end)
    assert again.events_changed == 0 and again.audit_id is None
    assert snapshot(url) == again_before


def test_events_outside_the_range_keep_the_superseded_version(world):
    url, day = world
    old_id = version_id(url, M1)
    with psycopg.connect(url) as conn:
        correct_price(conn, old_id, {"input_usd_per_mtok": Decimal("0.9")}, "wrong input rate")
        conn.commit()
    reprice(url, M1_REF, day + timedelta(hours=2), day + timedelta(hours=3))
    with psycopg.connect(url) as conn:
        outside = conn.execute(
            "SELECT count(*) FROM app.usage_events WHERE price_id = %s AND NOT"
            " (occurred_at >= %s AND occurred_at < %s)",
            (old_id, day + timedelta(hours=2), day + timedelta(hours=3)),
        ).fetchone()[0]
        m2 = conn.execute("SELECT count(*) FROM app.usage_events WHERE model_id = %s AND"
                          " price_id <> %s", (M2, version_id(url, M2))).fetchone()[0]  # fmt: skip
    assert outside > 0 and m2 == 0
    assert_rollups_match_events(url)


def test_a_future_price_never_touches_stored_events(world):
    url, day = world
    with psycopg.connect(url) as conn:
        # A price change from tomorrow: close the open version, add the next one.
        base = version_id(url, M1)
        tomorrow = conn.execute(
            "SELECT date_trunc('day', now(), 'UTC') + interval '1 day'"
        ).fetchone()[0]
        conn.execute(
            "UPDATE app.model_prices SET effective_to = %s WHERE id = %s", (tomorrow, base)
        )
        conn.execute("INSERT INTO app.model_prices (model_id, effective_from, input_usd_per_mtok,"
                     " output_usd_per_mtok) VALUES (%s, %s, 99, 99)", (M1, tomorrow))  # fmt: skip
        future = conn.execute("SELECT max(id) FROM app.model_prices").fetchone()[0]
        conn.commit()
        # and a correction of that future version
        correct_price(conn, future, {"input_usd_per_mtok": Decimal("98")}, "future typo")
        conn.commit()
    before = snapshot(url)["events"]
    report = reprice(url, M1_REF, day - timedelta(days=7), tomorrow + timedelta(days=7))
    assert report.events_changed == 0
    assert snapshot(url)["events"] == before


def test_started_periods_stay_immutable(world):
    url, _ = world
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation):
        conn.execute("UPDATE app.model_prices SET output_usd_per_mtok = 1 WHERE id = %s",
                     (version_id(url, M1),))  # fmt: skip
    with psycopg.connect(url) as conn:
        old = version_id(url, M1)
        correct_price(conn, old, {"output_usd_per_mtok": Decimal("1")}, "x")
        conn.commit()
        with pytest.raises(
            PlatformError, match=f"price version {old} was already corrected by version"
        ):
            correct_price(conn, old, {"output_usd_per_mtok": Decimal("2")}, "again")


def test_a_reprice_that_would_unprice_an_event_changes_nothing(world):
    url, day = world
    with psycopg.connect(url) as conn:
        correct_price(
            conn, version_id(url, M1), {"reasoning_output_usd_per_mtok": None}, "no reasoning"
        )
        conn.commit()
    before = snapshot(url)
    with pytest.raises(
        PlatformError, match=r"cannot be costed .* unpriced_category reasoning_output"
    ):
        reprice(url, M1_REF, day, day + timedelta(days=1))
    assert snapshot(url) == before


CLI = CliRunner()


def cli(*args: str):
    return CLI.invoke(app, ["prices", *args])


def test_cli_correct_then_reprice_with_json_and_stage_lines(world):
    url, day = world
    listed = cli("list", "--model", M1_REF, "--database-url", url, "--json")
    assert listed.exit_code == 0, listed.output
    versions = json.loads(listed.output)["versions"]
    base = next(
        v for v in versions if v["service_tier"] == "standard" and v["above_input_tokens"] == 0
    )
    fixed = cli("correct", "--price-id", str(base["id"]), "--rate", "output_usd_per_mtok=3.25",
                "--reason", "list price misread", "--database-url", url)  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
    assert "--dry-run" in fixed.output and "superseded by" in fixed.output
    args = ("reprice", "--model", M1_REF, "--from", day.isoformat(),
            "--to", (day + timedelta(days=1)).isoformat(), "--database-url", url)  # fmt: skip
    dry = cli(*args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert [line.split()[0] for line in dry.output.splitlines()] == ["plan", "reprice"]
    assert "dry run, nothing changed" in dry.output
    real = cli(*args)
    assert real.exit_code == 0, real.output
    stages = [line.split()[0] for line in real.output.splitlines()]
    assert stages == ["lock", "plan", "events", "rollups", "touched_hours", "audit", "reprice"]
    again = cli(*args, "--json")
    assert again.exit_code == 0 and json.loads(again.output)["events_changed"] == 0


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("reprice", "--model", "acme-ai/nope@1", "--from", "2026-01-01", "--to", "2026-01-02"), "unknown model 'acme-ai/nope@1'"),
        (("reprice", "--model", "m1", "--from", "2026-01-01", "--to", "2026-01-02"), "is not provider/model_name@version"),
        (("reprice", "--model", M1_REF, "--from", "2026-01-02", "--to", "2026-01-01"), "is not before --to"),
        (("reprice", "--model", M1_REF, "--from", "yesterday", "--to", "2026-01-01"), "'yesterday' is not an ISO 8601"),
        (("correct", "--price-id", "1", "--rate", "cache_usd=1", "--reason", "r"), "'cache_usd' is not a rate column"),
        (("correct", "--price-id", "1", "--rate", "input_usd_per_mtok=-1", "--reason", "r"), "a rate is a decimal from 0"),
        (("correct", "--price-id", "999999", "--rate", "input_usd_per_mtok=1", "--reason", "r"), "no price version 999999"),
        (("list", "--model", "acme-ai/nope@1"), "unknown model"),
    ],
)  # fmt: skip
def test_cli_bad_input_is_one_line(world, args, phrase):
    url, _ = world
    result = CliRunner().invoke(app, ["prices", *args, "--database-url", url])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and phrase in lines[0], result.output


# Property: whatever the mix of categories, tiers, service tiers and times, a reprice costs
# every event exactly as the oracle does, and the rollups equal a recomputation from the events.
counts = st.integers(0, 3_000)
event_strategy = st.fixed_dictionaries({
    "input_tokens": st.integers(0, 2_147_483_647 // 8), "cache_read_input_tokens": counts,
    "cache_write_5m_input_tokens": counts, "cache_write_1h_input_tokens": counts,
    "output_tokens": counts, "reasoning_output_tokens": counts, "audio_input_tokens": counts,
    "audio_output_tokens": counts, "image_input_tokens": counts, "image_output_tokens": counts,
    "web_search_calls": st.integers(0, 50), "tool_calls": st.integers(0, 50),
    "minute": st.integers(0, 6 * 60 - 1), "org": st.sampled_from([ORG_A, ORG_B]),
    "tier": st.sampled_from(["standard", "batch"]),
    "provider": st.none() | st.decimals(0, 100, places=12),
})  # fmt: skip


@pytest.fixture
def empty_world(operational_db_url):
    return operational_db_url, setup_world(operational_db_url)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(event_strategy, min_size=1, max_size=12))
def test_property_reprice_costs_every_event_as_the_oracle(empty_world, batch):
    url, day = empty_world
    tag = uuid.uuid4().hex[:8]
    events = []
    for n, e in enumerate(batch):
        counts_only = {k: v for k, v in e.items() if k in COUNTS}
        event = make_event(n, day + timedelta(minutes=e["minute"]), org=e["org"], tier=e["tier"],
                           **counts_only)  # fmt: skip
        event["event_id"] = f"p-{tag}-{n}"
        if e["provider"] is not None:
            event["provider_cost_usd"] = e["provider"].quantize(Q)
        events.append(event)
    insert_events(url, events, costed=False)
    reprice(url, M1_REF, day, day + timedelta(hours=6))
    assert_events_match_oracle(url)
    assert_rollups_match_events(url)
    assert reprice(url, M1_REF, day, day + timedelta(hours=6)).events_changed == 0
