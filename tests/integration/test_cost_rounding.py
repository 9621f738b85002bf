"""categories.cost_sql on both engines: DuckDB (ingestion) and PostgreSQL (repricing) compute
exactly categories.category_cost (Decimal, ROUND_HALF_UP: ties away from zero), ties included.
Banker's rounding (half to even) or half toward +infinity would fail the tie cases below."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project.lib.pricing.categories import (
    BY_KEY,
    CATEGORIES,
    Category,
    category_cost,
    cost_sql,
)

TOKENS, CALLS = BY_KEY["input"], BY_KEY["web_search"]

# (category, count, rate): the exact cost has an 11th decimal of 5, or none.
TIES = [
    (TOKENS, 1, "0.000050"),  # 0.5e-10 -> 1e-10 (half even: 0)
    (TOKENS, 1, "0.000150"),  # 1.5e-10 -> 2e-10
    (TOKENS, 1, "0.000250"),  # 2.5e-10 -> 3e-10 (half even: 2e-10)
    (TOKENS, 3, "0.000050"),  # 1.5e-10 -> 2e-10
    (TOKENS, 2_147_483_647, "999999.999999"),  # the largest count and rate: no overflow
    (TOKENS, 1, "-0.000050"),  # -0.5e-10 -> -1e-10: away from zero (half up toward +inf: 0)
    (TOKENS, 5, "-0.000050"),  # -2.5e-10 -> -3e-10
    (CALLS, 1, "0.000001"),  # per thousand calls: 1e-9, exact
    (CALLS, 7, "123.456789"),
    (TOKENS, 0, "1.000000"),  # a zero count costs 0
]


def engines_compute(pg_url: str, cases: list[tuple[Category, int, str]]) -> list[tuple]:
    """Every case's cost from DuckDB and from PostgreSQL, in case order."""
    out = []
    duck = duckdb.connect()
    with psycopg.connect(pg_url) as pg:
        for i, (c, n, rate) in enumerate(cases):
            query = (
                f"SELECT {cost_sql(c, 'v.n', 'v.r')} FROM (VALUES "
                f"(CAST({n} AS INTEGER), CAST('{rate}' AS DECIMAL(12, 6)))) AS v (n, r)"
            )
            (from_duckdb,) = duck.execute(query).fetchone()
            (from_pg,) = pg.execute(query).fetchone()
            out.append((i, Decimal(from_duckdb), Decimal(from_pg)))
    return out


def test_ties_round_half_away_from_zero_on_both_engines(fresh_db_url):
    for i, from_duckdb, from_pg in engines_compute(fresh_db_url, TIES):
        c, n, rate = TIES[i]
        expected = category_cost(n, Decimal(rate), c.unit)
        assert from_duckdb == expected == from_pg, TIES[i]
    # The cases do tell the rounding modes apart.
    assert category_cost(1, Decimal("0.000250"), 10**6) == Decimal("3E-10")
    assert category_cost(1, Decimal("-0.000050"), 10**6) == Decimal("-1E-10")


rates = st.decimals(0, Decimal("999999.999999"), places=6).map(str)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cases=st.lists(st.tuples(st.sampled_from(CATEGORIES), st.integers(0, 2**31 - 1), rates),
                      min_size=1, max_size=10))  # fmt: skip
def test_property_both_engines_cost_as_category_cost(fresh_db_url, cases):
    for i, from_duckdb, from_pg in engines_compute(fresh_db_url, cases):
        c, n, rate = cases[i]
        assert from_duckdb == category_cost(n, Decimal(rate), c.unit) == from_pg, cases[i]
