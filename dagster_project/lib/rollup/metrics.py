"""What a rollup run put into a relation over its range: rows, requests, tokens and cost, for the
run's metadata (Dagster plots numeric materialization metadata across runs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal

from dagster_project.lib.quality.common import warehouse_cursor
from dagster_project.lib.rollup.ranges import HourRange, iso
from dagster_project.lib.sqlfiles import read_sql

# relation -> its time column and that column's grain
RELATIONS = {
    "increment.usage_hourly_increment": ("hour_start", "hour"),
    "marts.usage_hourly": ("hour_start", "hour"),
    "increment.usage_daily_increment": ("day", "day"),
    "marts.usage_daily": ("day", "day"),
}


@dataclass(frozen=True)
class RangeTotals:
    rows: int
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal

    def as_metadata(self) -> dict[str, int | float]:
        out = asdict(self)
        out["cost_usd"] = float(self.cost_usd)  # a plotted number; the marts hold it exactly
        return out


def range_totals(warehouse_url: str, relation: str, hours: HourRange) -> RangeTotals:
    column, grain = RELATIONS[relation]
    if grain == "hour":
        start, end = (f"TIMESTAMPTZ '{iso(hours.start)}'", f"TIMESTAMPTZ '{iso(hours.end)}'")
    else:
        days = hours.days()
        start, end = (f"DATE '{days.start.date()}'", f"DATE '{days.end.date()}'")
    query = read_sql(__package__, "range_totals.sql").format(
        relation=relation, column=column, start=start, end=end
    )
    with warehouse_cursor(warehouse_url) as conn:
        rows, requests, tokens_in, tokens_out, cost = conn.execute(query).fetchone()
    return RangeTotals(int(rows), int(requests), int(tokens_in), int(tokens_out), Decimal(cost))
