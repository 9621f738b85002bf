"""The DuckDB warehouse's published snapshot: what analysts open while pipelines run.

DuckDB lets one process hold a database file for writing, and no other process may open it
then, not even read-only. So analysts never open the working warehouse file. After every
successful publication (the blocking checks passed and the marts were rebuilt) the `marts`
schema is copied into a new file beside the target, then renamed over it:

    .data/warehouse.duckdb          the working warehouse (landing, staging, increment, marts)
    .data/analytics.duckdb          the published marts, read-only for analysts

Every table and view of `marts` becomes a table of the snapshot (a view's rows as of the
publication), so the snapshot has no references back to the working file. The rename is
atomic: a reader that has the old snapshot open keeps reading it (Linux keeps the old inode
alive); the next open gets the new one. A failed check never reaches this step, so the
snapshot stays on the last good state.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

SCHEMA = "marts"


@dataclass(frozen=True)
class SnapshotReport:
    path: Path
    relations: dict[str, int]  # relation -> rows
    bytes: int
    seconds: float


def snapshot_path_for(warehouse_path: Path) -> Path:
    return warehouse_path.with_name("analytics.duckdb")


def publish_snapshot(warehouse_path: Path, snapshot_path: Path | None = None) -> SnapshotReport:
    started = time.monotonic()
    target = snapshot_path or snapshot_path_for(warehouse_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    relations: dict[str, int] = {}
    try:
        with duckdb.connect(str(warehouse_path)) as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = ? AND table_catalog = current_database() ORDER BY 1",
                    [SCHEMA],
                ).fetchall()
            ]
            conn.execute(f"ATTACH '{_quote(tmp)}' AS snapshot")
            conn.execute(f"CREATE SCHEMA snapshot.{SCHEMA}")
            for name in names:
                conn.execute(
                    f'CREATE TABLE snapshot.{SCHEMA}."{name}" AS SELECT * FROM {SCHEMA}."{name}"'
                )
                relations[name] = conn.execute(
                    f'SELECT count(*) FROM snapshot.{SCHEMA}."{name}"'
                ).fetchone()[0]
            conn.execute("DETACH snapshot")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return SnapshotReport(
        path=target,
        relations=relations,
        bytes=target.stat().st_size,
        seconds=round(time.monotonic() - started, 3),
    )


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
