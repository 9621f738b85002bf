"""The ingestion's record of which (organization, UTC hour) pairs received new events.

ingest.touched_event_hours gets one upsert per (organization, hour) in the same transaction as
the events (lib/ingest/loader.py), so a committed event's hour is always there; rows_added
grows with every batch that adds to the hour. Read as platform_loader, the warehouse loader's
read-only role.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from dagster_project.lib.db.postgres import LOADER_ROLE, connect
from dagster_project.lib.sqlfiles import read_sql


@dataclass(frozen=True)
class Touch:
    organization_id: uuid.UUID
    event_hour: datetime
    rows_added: int
    last_touched_at: datetime


def touched_since(operational_url: str, since: datetime) -> list[Touch]:
    with connect(operational_url, autocommit=True) as conn:
        conn.execute(f"SET ROLE {LOADER_ROLE}")
        rows = conn.execute(read_sql(__package__, "touched_since.sql"), {"since": since}).fetchall()
    return [Touch(*row) for row in rows]
