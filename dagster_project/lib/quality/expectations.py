"""Great Expectations 1.x suites for the landing table and the hourly and daily increments.

    expected = expected_totals(operational_url, ranges)              # hourly and landing
    daily_expected = expected_totals(operational_url, ranges, whole_days=True)
    result = validate(warehouse_url, "hourly", ranges, expected)
    result.passed, result.failed_expectations                       # JSON-safe

Suites (SUITES): `landing` (landing.usage_events in the ranges), `hourly`
(increment.usage_hourly_increment in the ranges), `daily` (increment.usage_daily_increment on
the ranges' UTC days). Each checks the row count against the operational events (landing: equal;
increments: at least one row when the operational side has events, never more rows than
events), not-null keys, a unique grain (compound columns), failed_requests/requests in [0, 1],
token and cost sums equal to the operational totals (cost as an integer count of 1e-10 USD, so
exact), the token categories (no negative count or cost; the category costs sum to
computed_cost_usd, and on landing to cost_usd unless cost_source is provider; computed cost and
provider-costed requests equal the operational totals; cost_source and service_tier values), and freshness: the newest hour (day) lies within the ranges and is not older than the
newest operational hour.

Engines. PostgreSQL warehouse: GX's SQL datasource (SQLAlchemy `postgresql+psycopg2://`) with a
query asset restricted to the ranges; measured ~1 s per suite on 145k rows. DuckDB warehouse:
GX's SQL path on DuckDB silently reports every expectation failed ("list index out of range"),
so the rows are read into a pandas DataFrame (the file is opened read-only and closed before
validating) and validated through GX's pandas datasource. Both read the same portable SQL
(lib/quality/sql/suite_*.sql).

Context. One ephemeral context per process and Data Docs directory (created on first use, never
at import; `import great_expectations` alone takes ~2.4 s here), with analytics and progress bars
off. This GX build sends nothing anywhere, and no code path here asks it to (checked: a
DuckDB validation plus a Data Docs build ran with every socket connect refused). Results hold numpy
values, so everything returned goes through GX's `to_json_dict()`.

Data Docs are built offline into `data_docs_dir` (default `.data/data_docs/`): static HTML
written by GX. The pages load their CSS and JavaScript (Bootstrap, jQuery, Font Awesome, Vega)
from public CDNs when opened in a browser, so without internet they show unstyled, but every
result is in the HTML. The site's index lists the validations of this process's context (the
store is in memory); pages of earlier runs stay on disk.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from dagster_project.lib.paths import DATA_DIR
from dagster_project.lib.pricing.categories import COST_SOURCES, SERVICE_TIERS
from dagster_project.lib.quality.common import (
    DAY,
    HOUR,
    QualityInputError,
    Range,
    days_of,
    normalize_ranges,
    operational_cursor,
    render,
    warehouse_cursor,
    warehouse_engine,
    widen_to_days,
)

DEFAULT_DATA_DOCS_DIR = DATA_DIR / "data_docs"
DOCS_SITE = "platform_quality"
COST_UNITS = Decimal(10) ** 10  # the stored scale of cost_usd: 10 decimals in every table


@dataclass(frozen=True)
class SuiteSpec:
    relation: str
    sql: str
    grain: tuple[str, ...]
    not_null: tuple[str, ...]
    time_column: str
    daily: bool = False


# The hourly and daily increments' columns that are never null, besides their time column.
ROLLUP_NOT_NULL = ("organization_id", "model_id", "model", "build_id", "requests",
                   "successful_requests", "failed_requests", "input_tokens", "output_tokens",
                   "cost_usd_e10")  # fmt: skip
SUITES: dict[str, SuiteSpec] = {
    "landing": SuiteSpec(
        relation="landing.usage_events",
        sql="suite_landing.sql",
        grain=("organization_id", "event_id"),
        not_null=(
            "occurred_at",
            "organization_id",
            "model_id",
            "event_id",
            "status",
            "input_tokens",
            "output_tokens",
            "cost_usd_e10",
        ),  # fmt: skip
        time_column="occurred_at",
    ),
    "hourly": SuiteSpec(
        relation="increment.usage_hourly_increment",
        sql="suite_hourly.sql",
        grain=("hour_start", "organization_id", "model_id"),
        not_null=("hour_start", *ROLLUP_NOT_NULL),
        time_column="hour_start",
    ),
    "daily": SuiteSpec(
        relation="increment.usage_daily_increment",
        sql="suite_daily.sql",
        grain=("day", "organization_id", "model_id"),
        not_null=("day", *ROLLUP_NOT_NULL),
        time_column="day_start",
        daily=True,
    ),
}


@dataclass(frozen=True)
class Expected:
    """The operational side's totals for the validated ranges (see `expected_totals`)."""

    events: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latest_hour: datetime | None  # newest UTC hour with events in the ranges; None: no events
    build_id: str | None = None  # when given, every increment row must carry it
    # Issue 10: the sum of the events' category costs and the events with a provider cost; when
    # given, the suites' sums must equal them.
    computed_cost_usd: Decimal | None = None
    provider_cost_requests: int | None = None


@dataclass(frozen=True)
class SuiteResult:
    suite_name: str
    engine: str  # 'duckdb' | 'postgres'
    passed: bool
    statistics: dict[
        str, Any
    ]  # GX: evaluated/successful/unsuccessful_expectations, success_percent
    failed_expectations: list[dict[str, Any]] = field(default_factory=list)  # JSON-safe
    data_docs_path: str | None = None  # the site's index.html
    duration_seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        return {
            "suite": self.suite_name,
            "engine": self.engine,
            "passed": self.passed,
            "statistics": self.statistics,
            "failed_expectations": self.failed_expectations,
            "data_docs_path": self.data_docs_path,
            "duration_seconds": round(self.duration_seconds, 3),
        }


def expected_totals(
    operational_url: str,
    ranges: Iterable[Sequence[datetime | str]],
    *,
    whole_days: bool = False,
    build_id: str | None = None,
) -> Expected:
    """Events, token and cost totals and the newest hour of the operational events in the
    ranges (read as platform_loader). `whole_days=True` for the daily suite: the ranges widened
    to whole UTC days, as the daily models rebuild them."""
    merged = widen_to_days(ranges) if whole_days else normalize_ranges(ranges)
    with operational_cursor(operational_url) as conn:
        events, input_tokens, output_tokens, cost, computed, provider, latest = conn.execute(
            render("operational_totals.sql", merged)
        ).fetchone()
    return Expected(int(events), int(input_tokens), int(output_tokens), Decimal(cost), latest,
                    build_id, Decimal(computed), int(provider))  # fmt: skip


# -- the GX context -----------------------------------------------------------------------------

_LOCK = threading.RLock()  # one validation at a time per process: the context is shared
_CONTEXTS: dict[Path, Any] = {}


def _context(docs_dir: Path) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    if docs_dir not in _CONTEXTS:
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            data_docs_sites={
                DOCS_SITE: {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(docs_dir),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                }
            },
        )
        _CONTEXTS[docs_dir] = gx.get_context(mode="ephemeral", project_config=config)
    return _CONTEXTS[docs_dir]


def _units(amount: Decimal, what: str) -> int:
    units = amount * COST_UNITS
    if units != units.to_integral_value():
        raise QualityInputError(f"expected {what} {amount} has more than 10 decimals")
    return int(units)


def _suite(name: str, spec: SuiteSpec, ranges: Sequence[Range], expected: Expected) -> Any:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    cost_units = expected.cost_usd * COST_UNITS
    if cost_units != cost_units.to_integral_value():
        raise QualityInputError(f"expected cost_usd {expected.cost_usd} has more than 10 decimals")
    cost_units = int(cost_units)

    items: list[Any] = []
    if name == "landing":
        items.append(gxe.ExpectTableRowCountToEqual(value=expected.events))
        items.append(
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["success", "error"])
        )
    elif expected.events:
        # At least one group, and never more groups than events.
        items.append(gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=expected.events))
    else:
        items.append(gxe.ExpectTableRowCountToEqual(value=0))
    items += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in spec.not_null]
    items.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(spec.grain)))
    if name != "landing":
        items.append(gxe.ExpectColumnValuesToBeBetween(column="requests", min_value=1))
        items.append(
            gxe.ExpectColumnValuesToBeBetween(column="failed_ratio", min_value=0, max_value=1)
        )
        if expected.build_id is not None:
            items.append(
                gxe.ExpectColumnValuesToBeInSet(column="build_id", value_set=[expected.build_id])
            )
    items += [gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0)
              for c in ("input_tokens", "output_tokens", "cost_usd_e10")]  # fmt: skip
    # Token categories (issue 10): no negative count or cost in any category; the sum of the
    # category costs is computed_cost_usd (rollups) or cost_usd unless the provider's (landing).
    items += [gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0)
              for c in ("min_category_count", "min_category_cost_e10")]  # fmt: skip
    items.append(
        gxe.ExpectColumnValuesToBeBetween(column="computed_cost_gap_e10", min_value=0, max_value=0)
    )
    if name == "landing":
        items.append(
            gxe.ExpectColumnValuesToBeInSet(column="cost_source", value_set=list(COST_SOURCES))
        )
        items.append(
            gxe.ExpectColumnValuesToBeInSet(column="service_tier", value_set=list(SERVICE_TIERS))
        )
    else:
        items.append(
            gxe.ExpectColumnValuesToBeBetween(column="provider_cost_requests", min_value=0)
        )

    if expected.events:
        sums = {"input_tokens": expected.input_tokens, "output_tokens": expected.output_tokens,
                "cost_usd_e10": cost_units}  # fmt: skip
        if name != "landing":
            sums["requests"] = expected.events
        if expected.computed_cost_usd is not None:
            sums["computed_cost_e10"] = _units(expected.computed_cost_usd, "computed_cost_usd")
        if expected.provider_cost_requests is not None and name != "landing":
            sums["provider_cost_requests"] = expected.provider_cost_requests
        items += [gxe.ExpectColumnSumToBeBetween(column=c, min_value=v, max_value=v)
                  for c, v in sums.items()]  # fmt: skip
        # Freshness: the newest row lies within the ranges and is not older than the newest
        # operational hour (day): a load or build that stopped early fails here.
        latest = expected.latest_hour
        if latest is None:
            raise QualityInputError("expected.latest_hour is None although expected.events > 0")
        unit = DAY if spec.daily else HOUR
        if spec.daily:
            latest = latest.replace(hour=0)
        last = ranges[-1][1] - (unit if name != "landing" else HOUR)
        items.append(gxe.ExpectColumnMaxToBeBetween(
            column=spec.time_column, min_value=latest,
            max_value=ranges[-1][1] if name == "landing" else last,
            strict_max=name == "landing",
        ))  # fmt: skip

    suite = gx.ExpectationSuite(name=name)
    for item in items:
        suite.add_expectation(item)
    return suite


def _replace_asset(datasource: Any, name: str) -> None:
    if name in {asset.name for asset in datasource.assets}:
        datasource.delete_asset(name)


def _failed(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    failed = []
    for r in results:
        if r.get("success"):
            continue
        config = r.get("expectation_config") or {}
        result = r.get("result") or {}
        exception = r.get("exception_info") or {}
        failed.append({
            "expectation": config.get("type"),
            "kwargs": {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"},
            "observed_value": result.get("observed_value"),
            "unexpected_count": result.get("unexpected_count"),
            "partial_unexpected_list": (result.get("partial_unexpected_list") or [])[:20],
            "exception": exception.get("exception_message") if exception.get("raised_exception") else None,
        })  # fmt: skip
    return failed


def validate(
    warehouse_url: str,
    suite_name: str,
    ranges: Iterable[Sequence[datetime | str]],
    expected: Expected,
    *,
    relation: str | None = None,
    data_docs_dir: Path | str | None = None,
    build_data_docs: bool = True,
) -> SuiteResult:
    """Run one suite (`landing`, `hourly` or `daily`) on the warehouse rows of the ranges
    (`daily`: the ranges' whole UTC days) against `expected`, and build the Data Docs."""
    started = time.monotonic()
    if suite_name not in SUITES:
        raise QualityInputError(
            f"unknown suite {suite_name!r}: expected one of {', '.join(SUITES)}"
        )
    spec = SUITES[suite_name]
    engine = warehouse_engine(warehouse_url)
    merged = widen_to_days(ranges) if spec.daily else normalize_ranges(ranges)
    query = render(spec.sql, merged, days=days_of(merged) if spec.daily else (),
                   relation=relation or spec.relation)  # fmt: skip
    docs_dir = Path(data_docs_dir) if data_docs_dir is not None else DEFAULT_DATA_DOCS_DIR

    frame = None
    if engine == "duckdb":
        with warehouse_cursor(warehouse_url) as conn, warnings.catch_warnings():
            # duckdb 1.4.2's .df() calls DataFrame.drop(inplace=True), deprecated in pandas 3.1.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*inplace keyword.*")
            frame = conn.execute(query).df()
        for column in ("organization_id", "model_id"):  # uuid.UUID objects -> text, as in SQL
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))

    import great_expectations as gx

    with _LOCK:
        context = _context(docs_dir.resolve())
        suite = context.suites.add_or_update(_suite(suite_name, spec, merged, expected))
        if frame is not None:
            datasource = context.data_sources.add_or_update_pandas(name="warehouse_duckdb")
            _replace_asset(datasource, suite_name)
            batch = datasource.add_dataframe_asset(
                name=suite_name
            ).add_batch_definition_whole_dataframe("rows")
            parameters = {"dataframe": frame}
        else:
            from dagster_project.lib.db.postgres import normalize_url

            connection = "postgresql+psycopg2://" + normalize_url(warehouse_url).split("://", 1)[1]
            datasource = context.data_sources.add_or_update_postgres(
                name="warehouse_postgres", connection_string=connection
            )
            _replace_asset(datasource, suite_name)
            # GX requires the query to start with SELECT: drop the file's comment lines.
            select = "\n".join(
                line for line in query.splitlines() if not line.lstrip().startswith("--")
            )
            batch = datasource.add_query_asset(
                name=suite_name, query=select
            ).add_batch_definition_whole_table("rows")
            parameters = None
        # One definition per engine and suite: a process that validates both engines (the test
        # suite does) must not update a definition whose batch lives in the other datasource
        # (GX then fails to resolve the old one's asset).
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"{engine}_{suite_name}", data=batch, suite=suite)
        )
        result = definition.run(
            batch_parameters=parameters,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
        )
        docs_path = None
        if build_data_docs:
            context.build_data_docs(site_names=[DOCS_SITE])
            docs_path = str(docs_dir.resolve() / "index.html")
        if frame is None:
            datasource.get_execution_engine().engine.dispose()  # no pooled warehouse connections

    report = result.to_json_dict()
    statistics = dict(report.get("statistics") or {})
    failed = _failed(report.get("results") or [])
    return SuiteResult(
        suite_name=suite_name,
        engine=engine,
        passed=bool(result.success) and not failed,
        statistics=statistics,
        failed_expectations=failed,
        data_docs_path=docs_path,
        duration_seconds=time.monotonic() - started,
    )
