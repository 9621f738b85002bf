"""The reprice's SQL is rendered from CATEGORIES (lib/pricing/categories.py), and its costing is
the same cost_sql text ingestion's validator runs on DuckDB: a category added to the contract is
costed, compared and written back by the reprice without anyone editing the SQL."""

from __future__ import annotations

import re

import pytest

from dagster_project.lib.ingest.validate import ENRICH_SQL
from dagster_project.lib.pricing.categories import CATEGORIES, Category, cost_sql
from dagster_project.lib.pricing.reprice import apply_sql, plan_sql


@pytest.mark.parametrize("c", CATEGORIES, ids=lambda c: c.key)
def test_the_rendered_plan_names_every_category(c: Category) -> None:
    plan = plan_sql()
    assert f"e.{c.cost}," in plan or f"e.{c.cost}\n" in plan  # the stored cost, compared
    assert f"CASE WHEN e.{c.count} > 0 AND p.{c.rate} IS NULL THEN '{c.key}' END" in plan
    assert f"{cost_sql(c, f'e.{c.count}', f'p.{c.rate}')} AS new_{c.cost}" in plan
    assert f"new_{c.cost} <> {c.cost}" in plan
    assert re.search(rf"\bnew_{c.cost}\b( \+|\s+AS new_computed_cost_usd)", plan)
    if c.is_input:
        assert f"e.{c.count}::bigint" in plan  # the context tier's total input
    assert f"{c.cost} = r.new_{c.cost}" in apply_sql()


def test_the_rendered_sql_has_no_placeholder_left() -> None:
    for sql in (plan_sql(), apply_sql()):
        assert not re.search(r"\{[a-z_]+\}", sql)
        assert sql.count("%(model_id)s") >= 1


def test_ingestion_and_reprice_cost_with_the_same_expression() -> None:
    for c in CATEGORIES:
        assert cost_sql(c, f"t.{c.count}", f"p.{c.rate}") in ENRICH_SQL
        assert cost_sql(c, f"e.{c.count}", f"p.{c.rate}") in plan_sql()


def test_cost_sql_is_the_contract_rule() -> None:
    tokens, calls = CATEGORIES[0], next(c for c in CATEGORIES if c.unit == 10**3)
    assert cost_sql(tokens, "n", "r") == (
        "CASE WHEN n = 0 THEN 0 ELSE round(CAST(n AS DECIMAL(38, 0)) * r * 0.000001, 10) END"
    )
    assert "* r * 0.001, 10)" in cost_sql(calls, "n", "r")
    with pytest.raises(KeyError):  # a unit the rule has no exact inverse for
        cost_sql(Category("x", "x_n", "x_rate", "x_cost", 10**4, False), "n", "r")
