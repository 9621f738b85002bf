"""The billable categories of an LLM call: the one definition every layer follows.

Categories do not overlap: a token (or call) is counted in exactly one of them, so the cost of a
call is the sum of its categories' costs. `input_tokens` is uncached text input and
`output_tokens` visible text output without reasoning, which is what an envelope-1.0 event's two
counts meant too. docs/pricing.md maps each provider's usage report onto these fields.

Per category:
    key       the category's name (docs, CLI, metadata)
    count     the envelope field and the app.usage_events column holding the count
    rate      the app.model_prices column: USD per `unit` (NULL = the price does not offer it)
    cost      the app.usage_events / rollup column holding the category's cost in USD
    unit      what the rate is per: 1,000,000 tokens or 1,000 calls
    is_input  counts toward the context tier and the model's context window
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Category:
    key: str
    count: str
    rate: str
    cost: str
    unit: int
    is_input: bool


def _tokens(key: str, is_input: bool) -> Category:
    return Category(key, f"{key}_tokens", f"{key}_usd_per_mtok", f"{key}_cost_usd", 10**6, is_input)


CATEGORIES: tuple[Category, ...] = (
    _tokens("input", True),
    _tokens("cache_read_input", True),
    _tokens("cache_write_5m_input", True),
    _tokens("cache_write_1h_input", True),
    _tokens("output", False),
    _tokens("reasoning_output", False),
    _tokens("audio_input", True),
    _tokens("audio_output", False),
    _tokens("image_input", True),
    _tokens("image_output", False),
    Category("web_search", "web_search_calls", "web_search_usd_per_kcall", "web_search_cost_usd", 10**3, False),
    Category("tool_call", "tool_calls", "tool_call_usd_per_kcall", "tool_call_cost_usd", 10**3, False),
)  # fmt: skip

BY_KEY = {c.key: c for c in CATEGORIES}
# The categories envelope 1.1 added (1.0 had input_tokens and output_tokens only).
NEW_COUNTS = tuple(c.count for c in CATEGORIES if c.count not in ("input_tokens", "output_tokens"))
RATE_COLUMNS = tuple(c.rate for c in CATEGORIES)
SERVICE_TIERS = ("standard", "batch", "priority", "flex")
COST_SOURCES = ("computed", "provider")
# Costs are stored as numeric(18, 10): each category's cost is rounded to this many places.
COST_SCALE = 10
_QUANTUM = Decimal(1).scaleb(-COST_SCALE)


def category_cost(count: int, rate: Decimal | None, unit: int) -> Decimal:
    """One category's cost: 0 for a zero count, else count * rate / unit rounded half away
    from zero to 10 places (exact decimal arithmetic, as the SQL does it)."""
    if count == 0:
        return Decimal(0).quantize(_QUANTUM)
    if rate is None:
        raise ValueError("a non-zero count in a category the price does not offer")
    return (Decimal(count) * rate / Decimal(unit)).quantize(_QUANTUM, rounding=ROUND_HALF_UP)


# The unit's inverse as an exact literal: a multiplication keeps the arithmetic DECIMAL/numeric
# on both engines (a division would give DuckDB a DOUBLE).
_INVERSE = {10**6: "0.000001", 10**3: "0.001"}


def cost_sql(c: Category, count: str, rate: str) -> str:
    """The costing rule as SQL, one text for DuckDB (ingestion, lib/ingest/validate.py) and
    PostgreSQL (repricing, lib/pricing/sql/reprice_plan.sql): 0 for a zero count, else
    round(count * rate * 1e-6 (1e-3 per thousand calls), 10), exact. `count` and `rate` are SQL
    expressions (e.g. "t.input_tokens", "p.input_usd_per_mtok").

    DECIMAL(38, 0) * DECIMAL(12, 6) * the literal is DECIMAL(38, 12) on DuckDB and exact numeric
    on PostgreSQL; both engines' round() on a decimal rounds half away from zero (DuckDB adds
    half a unit of the magnitude's sign before truncating, PostgreSQL's numeric round is
    documented so), which is category_cost's ROUND_HALF_UP on Decimal. tests/integration/
    test_cost_rounding.py checks the ties on both engines."""
    return (f"CASE WHEN {count} = 0 THEN 0 ELSE round(CAST({count} AS DECIMAL(38, 0)) "
            f"* {rate} * {_INVERSE[c.unit]}, {COST_SCALE}) END")  # fmt: skip


def total_input(counts: dict[str, int]) -> int:
    """What the context tier and the context window are measured on: every input category."""
    return sum(counts.get(c.count, 0) for c in CATEGORIES if c.is_input)
