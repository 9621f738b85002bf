"""Usage-event ingestion: validated, idempotent, late-tolerant, nothing lost.

    from dagster_project.lib.ingest import ingest_file, ingest_events, load_config
    result = ingest_file(Path("usage.ndjson"), database_url=url)  # a BatchResult
    result = ingest_events([{...}, {...}], database_url=url)      # an iterable of dicts

Modules: config (configs/ingest.yaml), schema (the envelope's JSON Schema, compiled for
DuckDB), readers (NDJSON/CSV/Parquet -> chunks), reference (what events are checked against),
validate (set-based checks, costs, keys), loader (the COPY + set-based insert fast path),
pipeline (batches, shards, retries), reasons (quarantine reason codes). The heavy modules
(DuckDB, Arrow) load on first use, so importing this package for its config stays cheap.
"""

from __future__ import annotations

from typing import Any

from dagster_project.lib.ingest.config import IngestConfig, IngestError, load_config
from dagster_project.lib.ingest.reasons import REASONS

__all__ = [
    "REASONS",
    "BatchResult",
    "IngestConfig",
    "IngestError",
    "ingest_events",
    "ingest_file",
    "ingest_paths",
    "load_config",
]
_PIPELINE = {"BatchResult", "ingest_events", "ingest_file", "ingest_paths"}


def __getattr__(name: str) -> Any:
    if name in _PIPELINE:
        from dagster_project.lib.ingest import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
