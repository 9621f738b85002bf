"""app.rebuild_usage_rollups (migration 202612051400) against real PostgreSQL: it rebuilds exactly
the given (organization, hour) groups and their days from the events, as a replace, and what it
writes equals what the trigger app.usage_events_rollup accumulated for the same events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb
from test_prices_reprice import COSTS, COUNTS, M1, M2, ORG_A, ORG_B, setup_world

REBUILD = (
    "SELECT hourly_rows, daily_rows FROM app.rebuild_usage_rollups(%s::uuid[], %s::timestamptz[])"
)


def insert(url: str, events: list[dict]) -> None:
    """One INSERT on the parent table (the trigger adds the statement's sums). Costs are arbitrary:
    the rollups sum whatever is stored."""
    with psycopg.connect(url) as conn:
        price = {m: conn.execute("SELECT min(id) FROM app.model_prices WHERE model_id = %s",
                                 (m,)).fetchone()[0] for m in (M1, M2)}  # fmt: skip
        rows = []
        for e in events:
            costs = {c: str(e["costs"][i]) for i, c in enumerate(COSTS)}
            provider = e.get("provider")
            rows.append({
                "occurred_at": e["at"].isoformat(), "received_at": e["at"].isoformat(),
                "organization_id": str(e["org"]), "model_id": str(e["model"]),
                "latency_ms": 5, "event_id": e["id"], "operation": "chat.completions",
                "status": e["status"], "service_tier": "standard",
                "price_id": price[e["model"]],
                "cost_source": "computed" if provider is None else "provider",
                "cost_usd": str(sum(e["costs"]) if provider is None else provider),
                **dict(zip(COUNTS, e["counts"], strict=True)), **costs,
            })  # fmt: skip
        conn.execute(
            f"""INSERT INTO app.usage_events (occurred_at, received_at, organization_id, model_id,
                    latency_ms, event_id, operation, status, service_tier, price_id, cost_source,
                    cost_usd, {", ".join(COUNTS)}, {", ".join(COSTS)})
                SELECT occurred_at, received_at, organization_id, model_id, latency_ms, event_id,
                       operation, status, service_tier, price_id, cost_source, cost_usd,
                       {", ".join(COUNTS)}, {", ".join(COSTS)}
                FROM jsonb_populate_recordset(NULL::app.usage_events, %s)""",
            (Jsonb(rows),),
        )


def rollups(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT * FROM app.{t} ORDER BY 1, 2, 3").fetchall()
                for t in ("usage_hourly", "usage_daily")}  # fmt: skip


def rebuild(url: str, groups: list[tuple[uuid.UUID, datetime]]) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        result = conn.execute(REBUILD, ([o for o, _ in groups], [h for _, h in groups])).fetchone()
        conn.commit()
        return result


def event(n: int, org, model, at: datetime, *, status="success", provider=None) -> dict:
    counts = [(n * 7 + i * 13) % 500 for i in range(len(COUNTS))]
    costs = [Decimal(c) * Decimal("0.0000001234") for c in counts]
    return {"id": f"rb-{n}", "org": org, "model": model, "at": at, "status": status,
            "counts": counts, "costs": costs, "provider": provider}  # fmt: skip


@pytest.fixture
def world(operational_db_url):
    return operational_db_url, setup_world(operational_db_url)


def test_rebuild_replaces_exactly_the_given_groups(world):
    url, day = world
    h = [day + timedelta(hours=i) for i in range(4)]
    insert(url, [
        event(n, (ORG_A, ORG_B)[n // 4 % 2], (M1, M2)[n // 8 % 2], h[n % 4] + timedelta(minutes=n),
              status="error" if n % 5 == 0 else "success",
              provider=Decimal("0.5") if n == 3 else None)
        for n in range(40)
    ])  # fmt: skip
    trigger = rollups(url)
    stray = uuid.UUID("2d000000-0000-4000-8000-0000000000ff")  # a model without events
    with psycopg.connect(url) as conn:  # as the superuser: no trigger follows these
        conn.execute(
            "UPDATE app.usage_hourly SET requests = requests + 100, cost_usd = cost_usd + 1"
        )
        conn.execute(
            "UPDATE app.usage_daily SET requests = requests + 100, cost_usd = cost_usd + 1"
        )
        conn.execute(
            "INSERT INTO app.usage_hourly (organization_id, hour, model_id, requests, errors,"
            " input_tokens, output_tokens, cost_usd) VALUES (%s, %s, %s, 1, 0, 0, 0, 0)",
            (ORG_A, h[1], stray),
        )
        # ORG_B's hour 3 loses every event, ORG_A's hour 1 keeps its own.
        gone = conn.execute(
            "DELETE FROM app.usage_events WHERE organization_id = %s AND occurred_at >= %s"
            " AND occurred_at < %s", (ORG_B, h[3], h[3] + timedelta(hours=1)),
        ).rowcount  # fmt: skip
        assert gone > 0
        corrupted = conn.execute("SELECT * FROM app.usage_hourly ORDER BY 1, 2, 3").fetchall()

    hourly_rows, daily_rows = rebuild(url, [(ORG_A, h[1]), (ORG_B, h[3]), (ORG_A, h[1])])

    after = rollups(url)
    given = {(ORG_A, h[1]), (ORG_B, h[3])}
    # The given groups: ORG_A's hour 1 as the trigger kept it (stray row gone), ORG_B's hour 3 gone.
    assert [r for r in after["usage_hourly"] if (r[0], r[1]) in given] == [
        r for r in trigger["usage_hourly"] if (r[0], r[1]) == (ORG_A, h[1])
    ]
    assert hourly_rows == 2  # ORG_A's hour 1: M1 and M2
    # Every other hourly row untouched (still corrupted).
    assert [r for r in after["usage_hourly"] if (r[0], r[1]) not in given] == [
        r for r in corrupted if (r[0], r[1]) not in given
    ]
    # The groups' day, for both organizations: the sums of the events left.
    with psycopg.connect(url) as conn:
        fresh = conn.execute(
            "SELECT organization_id, (occurred_at AT TIME ZONE 'UTC')::date, model_id, count(*),"
            " sum(cost_usd) FROM app.usage_events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall()
    assert [(r[0], r[1], r[2], r[3], r[7]) for r in after["usage_daily"]] == fresh
    assert daily_rows == len(fresh) == 4
    assert [r for r in after["usage_daily"] if r[0] == ORG_A] == [
        r for r in trigger["usage_daily"] if r[0] == ORG_A
    ]


def test_a_day_without_a_partition_is_refused_and_nothing_changes(world):
    url, day = world
    insert(url, [event(1, ORG_A, M1, day + timedelta(minutes=5))])
    before = rollups(url)
    long_ago = day - timedelta(days=20)  # no partition: its events would be retired
    with (
        psycopg.connect(url) as conn,
        pytest.raises(psycopg.errors.InvalidParameterValue, match="no partition"),
    ):
        conn.execute(REBUILD, ([ORG_A, ORG_A], [day, long_ago]))
    for organization_ids, hours, phrase in (
        ([ORG_A], [day, day], "1 organization id"),
        ([ORG_A], [day + timedelta(minutes=1)], "start of a UTC hour"),
        ([None], [day], "start of a UTC hour"),
    ):
        with (
            psycopg.connect(url) as conn,
            pytest.raises(psycopg.errors.InvalidParameterValue, match=phrase),
        ):
            conn.execute(REBUILD, (organization_ids, hours))
    assert rollups(url) == before
    # The partition bounds are read whatever the session's TimeZone and DateStyle.
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'Pacific/Chatham'")
        conn.execute("SET DateStyle = 'SQL, DMY'")
        assert conn.execute(REBUILD, ([ORG_A], [day])).fetchone() == (1, 1)
        conn.commit()
    assert rollups(url) == before


@pytest.mark.parametrize("role", ["platform_app", "platform_ingest", "platform_loader"])
def test_service_roles_cannot_rebuild(world, role_url, role):
    url, day = world
    with (
        psycopg.connect(role_url(url, role)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(REBUILD, ([ORG_A], [day]))


# Property: for any events over two days, dropping every rollup row and rebuilding every
# (organization, hour) of the events gives back exactly what the trigger accumulated, column by
# column (the trigger's sums and the rebuild's are two texts: this is what keeps them equal).
costs = st.decimals(0, 10, places=10)
event_strategy = st.fixed_dictionaries({
    "org": st.sampled_from([ORG_A, ORG_B]), "model": st.sampled_from([M1, M2]),
    "minute": st.integers(0, 2 * 24 * 60 - 1), "error": st.booleans(),
    "counts": st.lists(st.integers(0, 2_000_000), min_size=len(COUNTS), max_size=len(COUNTS)),
    "costs": st.lists(costs, min_size=len(COSTS), max_size=len(COSTS)),
    "provider": st.none() | costs,
})  # fmt: skip


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    statements=st.lists(st.lists(event_strategy, min_size=1, max_size=8), min_size=1, max_size=3)
)
def test_property_rebuild_equals_the_trigger_rollup(world, statements):
    url, day = world
    tag = uuid.uuid4().hex[:8]
    for s, batch in enumerate(statements):
        insert(url, [
            {"id": f"p-{tag}-{s}-{n}", "org": e["org"], "model": e["model"],
             "at": day + timedelta(minutes=e["minute"]),
             "status": "error" if e["error"] else "success", "counts": e["counts"],
             "costs": e["costs"], "provider": e["provider"]}
            for n, e in enumerate(batch)
        ])  # fmt: skip
    trigger = rollups(url)
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM app.usage_hourly")
        conn.execute("DELETE FROM app.usage_daily")
        groups = conn.execute(
            "SELECT DISTINCT organization_id, date_bin('1 hour', occurred_at, '2000-01-01 00:00:00+00')"
            " FROM app.usage_events"
        ).fetchall()
    hourly_rows, daily_rows = rebuild(url, groups)
    assert rollups(url) == trigger
    assert (hourly_rows, daily_rows) == (len(trigger["usage_hourly"]), len(trigger["usage_daily"]))
