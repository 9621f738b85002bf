"""The generator's seeded entities are the database's: generated from the fixtures alone (no
database), its valid rows pass the references ingestion checks against a seeded database, and
each reference-breaking invalid kind fails exactly the check it is meant to fail; a generated
file goes through the real ingestion exactly as its manifest says."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from dagster_project.lib.generate import GenerateOptions, generate_usage, load_catalog
from dagster_project.lib.generate.invalid import EXPECTED_REASONS
from dagster_project.lib.ingest import ingest_file
from dagster_project.lib.ingest.config import load_config as load_ingest_config
from dagster_project.lib.ingest.reasons import REASONS
from dagster_project.lib.pricing.categories import CATEGORIES
from dagster_project.lib.seeds import seed_database

# The checks ingestion makes that need the database, named after the generator's kinds.
PROBLEMS = """
SELECT CASE
    WHEN NOT EXISTS (SELECT 1 FROM app.organizations o
                     WHERE o.id = (e->>'organization_id')::uuid AND o.status = 'active')
        THEN 'unknown_org'
    WHEN NOT EXISTS (SELECT 1 FROM app.model_registry m
                     WHERE m.provider || '/' || m.model_name || '@' || m.version = e->>'model')
        THEN 'unknown_model'
    WHEN NOT EXISTS (SELECT 1 FROM app.model_registry m JOIN app.model_prices p ON p.model_id = m.id
                     WHERE m.provider || '/' || m.model_name || '@' || m.version = e->>'model'
                       AND tstzrange(p.effective_from, p.effective_to) @> (e->>'occurred_at')::timestamptz)
        THEN 'no_price'
    WHEN e->>'api_key_id' IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM app.api_keys k WHERE k.id = (e->>'api_key_id')::uuid
               AND k.organization_id = (e->>'organization_id')::uuid AND k.revoked_at IS NULL)
        THEN 'foreign_api_key'
    WHEN e->>'user_id' IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM app.memberships ms WHERE ms.user_id = (e->>'user_id')::uuid
               AND ms.organization_id = (e->>'organization_id')::uuid)
        THEN 'foreign_user'
    ELSE 'ok'
END, count(*)
FROM jsonb_array_elements(%s) AS e
GROUP BY 1"""


@pytest.fixture(scope="module")
def seeded_url(operational_databases) -> Iterator[str]:
    url = operational_databases.create()
    seed_database(url, analytics=False)
    yield url
    operational_databases.drop(url)


def test_generated_references_match_the_seeded_database(seeded_url: str, tmp_path: Path) -> None:
    kinds = "unknown_org,unknown_model,foreign_api_key,foreign_user"
    options = GenerateOptions(
        output=tmp_path / "usage.ndjson",
        start=date(2026, 11, 16),
        days=2,
        events=5_000,
        invalid_fraction=0.2,
        invalid_kinds=kinds,
    )
    manifest = generate_usage(options, load_catalog())
    events = [json.loads(line) for line in (tmp_path / "usage.ndjson").read_text().splitlines()]
    with psycopg.connect(seeded_url) as conn:
        found = Counter(dict(conn.execute(PROBLEMS, (Jsonb(events),)).fetchall()))
    totals = manifest["totals"]
    assert found.pop("ok") == totals["valid"] + totals["duplicates"]
    assert found == Counter(totals["invalid_by_kind"])
    assert set(found) == set(kinds.split(","))


def _supports_envelope_1_1() -> bool:
    """Ingestion costs the 1.1 categories once it knows their quarantine reasons (issue 10's
    ingest part): before that a 1.1 field is an unknown_field."""
    return {"unpriced_category", "exceeds_context_window"} <= set(REASONS)


@pytest.mark.parametrize(
    ("envelope", "fmt"),
    [
        ("1.0", "ndjson"),
        pytest.param(
            "1.1",
            "ndjson",
            marks=pytest.mark.skipif(
                not _supports_envelope_1_1(), reason="ingestion does not read envelope 1.1 yet"
            ),
        ),
        pytest.param(
            "1.1",
            "parquet",
            marks=pytest.mark.skipif(
                not _supports_envelope_1_1(), reason="ingestion does not read envelope 1.1 yet"
            ),
        ),
    ],
)
def test_a_generated_file_ingests_exactly_as_its_manifest_says(
    operational_databases, tmp_path: Path, envelope: str, fmt: str
) -> None:
    """The real ingestion of a generated file, every invalid kind included: accepted,
    duplicates and quarantined as the manifest says, each kind quarantined with its expected
    reason and nothing else quarantined; the stored counts, tiers and costs (exact) are the
    manifest's."""
    url = operational_databases.create()
    try:
        seed_database(url, analytics=False)
        start = datetime.now(UTC).date() - timedelta(days=2)  # within retention and partitions
        path = tmp_path / f"usage.{fmt}"
        manifest = generate_usage(
            GenerateOptions(
                output=path, start=start, days=2, events=8_000, seed=11, envelope=envelope,
                late_fraction=0.03, max_late_days=1, duplicate_fraction=0.03,
                invalid_fraction=0.05,
            ),
            load_catalog(),
        )  # fmt: skip
        config = load_ingest_config().replace(max_attempts=1)
        result = ingest_file(path, database_url=url, config=config)
        expected = manifest["expected_ingest"]
        assert (result.state, result.submitted, result.accepted) == (
            "loaded",
            expected["submitted"],
            expected["accepted"],
        )
        assert (result.duplicates, result.quarantined) == (
            expected["duplicates"],
            expected["quarantined"],
        )
        totals = manifest["totals"]
        want: Counter[str] = Counter()
        for kind, count in totals["invalid_by_kind"].items():
            want[EXPECTED_REASONS[kind]] += count
        with psycopg.connect(url) as conn:
            got = Counter(
                dict(
                    conn.execute(
                        "SELECT reason, count(*) FROM ingest.quarantine WHERE batch_id = %s "
                        "GROUP BY reason",
                        (result.batch_id,),
                    ).fetchall()
                )
            )
            assert got == +want
            if envelope == "1.0":
                return
            sums = ", ".join(f"sum({c.count})" for c in CATEGORIES)
            row = conn.execute(
                f"SELECT {sums}, sum(cost_usd), count(*) FILTER (WHERE cost_source = 'provider'),"
                " count(*) FILTER (WHERE service_tier = 'batch') FROM app.usage_events"
            ).fetchone()
        stored = dict(zip([c.count for c in CATEGORIES], row[: len(CATEGORIES)], strict=True))
        assert stored == {c.count: totals[f"valid_{c.count}"] for c in CATEGORIES}
        assert row[len(CATEGORIES)] == Decimal(totals["valid_cost_usd"])
        assert row[len(CATEGORIES) + 1] == totals["valid_provider_cost_events"]
        assert row[len(CATEGORIES) + 2] == totals["valid_by_service_tier"].get("batch", 0)
    finally:
        operational_databases.drop(url)
