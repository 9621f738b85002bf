"""How a rollup splits the dbt project into steps, where a blocking check must stand between
them: the increment of a grain is built, checked, then published. Dagster
(defs/rollups/dbt_assets.py) makes one asset definition of each step; `platformctl rollup`
(lib/rollup/pipeline.py) runs them in the same order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DbtStep:
    name: str
    grain: str  # hourly | daily: the partitions of the step, and which checks follow it
    select: str
    exclude: str = ""
    description: str = ""

    def cli_args(self) -> list[str]:
        """`--select`/`--exclude` for running the step outside Dagster. Tests tagged `audit`
        scan whole published tables: they audit, they do not gate a run. With `cautious`
        indirect selection a test runs only when all its parents are built in the step (a test
        of usage_daily_increment also reads stg_models, and must wait for the daily step)."""
        exclude = f"{self.exclude} tag:audit".strip()
        return ["--select", self.select, "--exclude", exclude, "--indirect-selection", "cautious"]


HOURLY_INCREMENT = DbtStep(
    "hourly_increment", "hourly", "path:models/staging rollup_build_hourly usage_hourly_increment",
    description="Staging views and the hours of this run's range, rolled up from landing.",
)  # fmt: skip
HOURLY_MARTS = DbtStep(
    "hourly_marts", "hourly", "usage_hourly",
    description="Publishes the checked hourly increment: the range's hours replaced in marts.usage_hourly.",
)  # fmt: skip
DAILY_INCREMENT = DbtStep(
    "daily_increment", "daily", "rollup_build_daily usage_daily_increment usage_daily_breakdown_increment",
    description="The days of this run's range, rolled up from the events (percentiles don't add up).",
)  # fmt: skip
DAILY_MARTS = DbtStep(
    "daily_marts", "daily", "path:models/marts", exclude="usage_hourly",
    description="Publishes the checked daily increments and (re)creates the analyst views.",
)  # fmt: skip
STEPS = (HOURLY_INCREMENT, HOURLY_MARTS, DAILY_INCREMENT, DAILY_MARTS)
