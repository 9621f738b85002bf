"""The dbt project's list of token categories (dbt/macros/categories.sql) is the Python one
(dagster_project/lib/pricing/categories.py CATEGORIES), in the same order."""

from __future__ import annotations

import re

from dagster_project.lib import paths
from dagster_project.lib.pricing.categories import CATEGORIES


def test_the_dbt_categories_are_the_python_categories():
    text = (paths.PROJECT_ROOT / "dbt" / "macros" / "categories.sql").read_text()
    listed = re.findall(r"\{'key': '(\w+)', 'count': '(\w+)', 'cost': '(\w+)'\}", text)
    assert listed == [(c.key, c.count, c.cost) for c in CATEGORIES]
