"""The landing folder: which files are ready to ingest, and where they go afterwards.

Producers write a file under a hidden (`.name`) or `*.tmp`/`*.part` name and rename it when
complete; such names are never picked up, nor files modified in the last
`min_file_age_seconds` (a writer that appends in place). After its batch, a file moves to
`processed_dir/<UTC date>/` (loaded, or a replay of a loaded batch) or, when it needs a person
(dead-lettered, failed, or every line quarantined), to `dead_letter_dir/` with the reason beside
it in `<name>.reason.txt`. So the folder only ever holds work to do, and a bad file never blocks
the files behind it. A name already taken there gets a numeric suffix.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from dagster_project.lib.ingest.config import IngestConfig
from dagster_project.lib.ingest.readers import FORMATS

PARTIAL_SUFFIXES = (".tmp", ".part", ".partial")


def pending_files(config: IngestConfig, *, now: float | None = None) -> list[Path]:
    """Complete data files in the landing folder (not in its subfolders), oldest first."""
    folder = config.landing_dir
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    ready = []
    for path in folder.iterdir():
        name = path.name
        if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES) or not path.is_file():
            continue
        if path.suffix.lower() not in FORMATS:
            continue
        stat = path.stat()
        if now - stat.st_mtime < config.min_file_age_seconds:
            continue
        ready.append((stat.st_mtime, name, path))
    return [path for _, _, path in sorted(ready)]


def signature(path: Path) -> str:
    """Name, size and modification time: a new or rewritten file gets a new signature."""
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


REASON_SUFFIX = ".reason.txt"


def archive(path: Path, config: IngestConfig, problem: str | None = None) -> Path:
    """Move an ingested landing file out of the way; returns where it went. With a `problem`
    (one line: why the file needs a person) it goes to the dead-letter folder, the problem
    written beside it; without, to today's processed folder."""
    if problem is None:
        target_dir = config.processed_dir / datetime.now(UTC).strftime("%Y-%m-%d")
    else:
        target_dir = config.dead_letter_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    counter = 1
    while target.exists() or _reason_path(target).exists():
        target = target_dir / f"{path.stem}.{counter}{path.suffix}"
        counter += 1
    moved = path.rename(target)
    if problem is not None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        _reason_path(moved).write_text(f"{stamp} {path}\n{problem}\n")
    return moved


def _reason_path(target: Path) -> Path:
    return target.with_name(target.name + REASON_SUFFIX)
