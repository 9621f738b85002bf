"""Analytics fixtures (seeds/analytics/usage_events.ndjson) into app.usage_events.

Each line is a usage event envelope as a client sends it: event_id, organization_id, user_id,
api_key_id, model (`provider/model_name@version`), operation, occurred_at (RFC 3339),
input_tokens, output_tokens, latency_ms, status, error_code. The loader does what ingestion
does, set-based: checks every reference (usage_events has a foreign key only to organizations),
makes sure the days' partitions exist (there is no default partition), and stores the cost
computed from the price in effect at occurred_at, so the fixture exercises a price change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from dagster_project.lib.seeds import ids
from dagster_project.lib.seeds.core import SeedError, SeedReport

ENVELOPE = (
    "event_id", "organization_id", "user_id", "api_key_id", "model", "operation", "occurred_at",
    "input_tokens", "output_tokens", "latency_ms", "status", "error_code",
)  # fmt: skip

# The envelope as a record set; model is resolved to the registry id before it gets here.
RECORDSET = """jsonb_to_recordset(%(events)s) AS e(
    event_id text, organization_id uuid, user_id uuid, api_key_id uuid, model_id uuid,
    operation text, occurred_at timestamptz, input_tokens integer, output_tokens integer,
    latency_ms integer, status text, error_code text)"""

# The base standard price version in effect at occurred_at (the fixture's events are envelope
# 1.0: standard tier, input and output only): periods are [effective_from, effective_to), and the
# exclusion constraint on app.model_prices guarantees at most one current match.
PRICE_IN_EFFECT = (
    "p.model_id = e.model_id AND tstzrange(p.effective_from, p.effective_to) @> e.occurred_at"
    " AND p.service_tier = 'standard' AND p.above_input_tokens = 0 AND p.superseded_at IS NULL"
)

PROBLEMS = f"""
SELECT event_id, problem FROM (
    SELECT e.event_id, CASE
        WHEN NOT EXISTS (SELECT 1 FROM app.organizations o WHERE o.id = e.organization_id)
            THEN 'unknown organization'
        WHEN NOT EXISTS (SELECT 1 FROM app.model_registry m WHERE m.id = e.model_id)
            THEN 'unknown model'
        WHEN NOT EXISTS (SELECT 1 FROM app.model_prices p WHERE {PRICE_IN_EFFECT})
            THEN 'no price in effect at occurred_at'
        WHEN e.api_key_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM app.api_keys k
                WHERE k.id = e.api_key_id AND k.organization_id = e.organization_id)
            THEN 'API key not of this organization'
        WHEN e.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM app.memberships ms
                WHERE ms.user_id = e.user_id AND ms.organization_id = e.organization_id)
            THEN 'user not a member of this organization'
    END AS problem
    FROM {RECORDSET}
) AS checked WHERE problem IS NOT NULL ORDER BY event_id"""

INSERT = f"""
INSERT INTO app.usage_events (occurred_at, received_at, organization_id, user_id, api_key_id,
    model_id, input_tokens, output_tokens, latency_ms, event_id, operation, status, error_code,
    cost_usd, price_id, input_cost_usd, output_cost_usd)
SELECT e.occurred_at,
       -- Deterministic, unlike now(): the fixture gives the same rows in every database.
       e.occurred_at + e.latency_ms * interval '1 millisecond',
       e.organization_id, e.user_id, e.api_key_id, e.model_id, e.input_tokens, e.output_tokens,
       e.latency_ms, e.event_id, e.operation, e.status, e.error_code,
       -- docs/pricing.md: each category's cost rounded to 10 places, the event's cost their sum
       round(e.input_tokens * p.input_usd_per_mtok * 0.000001, 10)
           + round(e.output_tokens * p.output_usd_per_mtok * 0.000001, 10),
       p.id,
       round(e.input_tokens * p.input_usd_per_mtok * 0.000001, 10),
       round(e.output_tokens * p.output_usd_per_mtok * 0.000001, 10)
FROM {RECORDSET}
JOIN app.model_prices AS p ON {PRICE_IN_EFFECT}
-- A retry of the same event (same organization, occurred_at, event_id) is not a second event.
ON CONFLICT DO NOTHING
RETURNING event_id"""


def load_events(path: Path) -> list[dict[str, Any]]:
    """Parse and shape-check the NDJSON; the model name becomes the registry's seeded id."""
    events = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            event = json.loads(line)
            missing = [f for f in ENVELOPE if f not in event]
            if missing:
                raise SeedError(f"{where}: missing {', '.join(missing)}")
            occurred_at = datetime.fromisoformat(event["occurred_at"])
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise SeedError(f"{where}: not a usage event envelope: {exc}") from None
        if occurred_at.utcoffset() is None:
            raise SeedError(f"{where}: occurred_at needs a UTC offset (RFC 3339)")
        row = {f: event[f] for f in ENVELOPE if f != "model"}
        row.update(
            model_id=str(ids.model_id(str(event["model"]))), occurred_at=occurred_at.isoformat()
        )
        events.append(row)
    return events


def seed_analytics(
    conn: psycopg.Connection, events: list[dict[str, Any]], report: SeedReport
) -> None:
    """Insert the events that are not there yet. Runs inside the caller's transaction."""
    if not events:
        return
    params = {"events": Jsonb(events)}
    problems = conn.execute(PROBLEMS, params).fetchall()
    if problems:
        listed = "; ".join(f"{event_id}: {problem}" for event_id, problem in problems[:5])
        raise SeedError(f"{len(problems)} analytics fixture event(s) rejected: {listed}")
    days = sorted({datetime.fromisoformat(e["occurred_at"]).astimezone(UTC).date() for e in events})
    # Idempotent: creates only the missing daily partitions of [first day, last day].
    conn.execute(
        "SELECT app.ensure_usage_partitions(%s, %s)", (days[0], days[-1] + timedelta(days=1))
    )
    inserted = len(conn.execute(INSERT, params).fetchall())
    report.count("usage_events", inserted=True, rows=inserted)
    report.count("usage_events", inserted=False, rows=len(events) - inserted)
