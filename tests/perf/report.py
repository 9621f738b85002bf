"""Write one benchmark's section of docs/performance.md, leaving the other sections alone."""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

PERFORMANCE_MD = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
HEADER = """# Performance

Numbers written by `make bench` (each section says the command that produced it). Tests assert
behaviour, not time; the targets live here. Machine: see each section's environment line.
"""


def environment_line() -> str:
    from dagster_project.lib.db.postgres import connect, database_url, with_database

    try:
        with connect(with_database(database_url(), "postgres")) as conn:
            server = conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # the report is still written without the server version
        server = "unknown"
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · Python "
        f"{platform.python_version()} · PostgreSQL {server}"
    )


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the block between `<!-- bench:name -->` markers."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = PERFORMANCE_MD.read_text() if PERFORMANCE_MD.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    PERFORMANCE_MD.parent.mkdir(parents=True, exist_ok=True)
    PERFORMANCE_MD.write_text(text)
    return PERFORMANCE_MD
