"""Arbitrary envelopes and arbitrary lines through the whole ingestion path: it never crashes,
every batch loads, and submitted = accepted + duplicates + quarantined, every time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_helpers import KA, KB, ORG_A, ORG_B, UA, UB, event, make_world, test_config

from dagster_project.lib.ingest import ingest_file

text = st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=5,
)
FIELDS = ["event_id", "organization_id", "user_id", "api_key_id", "model", "operation",
          "occurred_at", "input_tokens", "output_tokens", "latency_ms", "status", "error_code",
          "metadata"]  # fmt: skip


@st.composite
def lines(draw) -> str:
    """A valid event (often), a mutated one, or any text at all."""
    kind = draw(st.sampled_from(["valid", "valid", "mutated", "mutated", "text"]))
    if kind == "text":
        return draw(st.text(max_size=60)).replace("\n", " ").replace("\r", " ")
    n = draw(st.integers(0, 30))  # small range: duplicates happen
    org, user, key = draw(st.sampled_from([(ORG_A, UA, KA), (ORG_B, UB, KB)]))
    payload = event(n, organization_id=org, user_id=user, api_key_id=key)
    if kind == "mutated":
        for name in draw(st.sets(st.sampled_from(FIELDS + ["extra"]), min_size=1, max_size=3)):
            if draw(st.booleans()):
                payload.pop(name, None)
            else:
                payload[name] = draw(json_values)
    return json.dumps(payload)  # may hold NaN/Infinity: Python writes them, they are not JSON


@pytest.fixture(scope="module")
def db(operational_databases) -> Iterator[str]:
    url = operational_databases.create()
    make_world(url)
    yield url
    operational_databases.drop(url)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(batch=st.lists(lines(), min_size=1, max_size=40))
def test_arbitrary_batches_are_fully_accounted_for(db, tmp_path_factory, batch):
    path = Path(tmp_path_factory.mktemp("prop")) / "batch.ndjson"
    path.write_text("".join(line + "\n" for line in batch))
    with psycopg.connect(db) as conn:
        before = conn.execute("SELECT count(*) FROM app.usage_events").fetchone()[0]
    result = ingest_file(
        path, database_url=db, config=test_config(path.parent, batch_size=7, shards=1)
    )
    assert result.state == "loaded", result.error
    blank = sum(1 for line in batch if line == "")
    if not result.replayed:
        assert result.submitted == len(batch) - blank
    assert result.submitted == result.accepted + result.duplicates + result.quarantined
    with psycopg.connect(db) as conn:
        after = conn.execute("SELECT count(*) FROM app.usage_events").fetchone()[0]
    assert after - before == (0 if result.replayed else result.accepted)
