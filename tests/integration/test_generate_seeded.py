"""The generator's seeded entities are the database's: generated from the fixtures alone (no
database), its valid rows pass the references ingestion checks against a seeded database, and
each reference-breaking invalid kind fails exactly the check it is meant to fail."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from dagster_project.lib.generate import GenerateOptions, generate_usage, load_catalog
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
