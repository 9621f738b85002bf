"""Write one benchmark's section of docs/performance.md, leaving the other sections alone."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

PERFORMANCE_MD = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
HEADER = """# Performance

Numbers written by `make bench` (each section says the command that produced it). Tests assert
behaviour, not time; the targets live here. Machine: see each section's environment line.
"""


def environment_line() -> str:
    server = "unknown"
    try:
        server = subprocess.run(["psql", os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0] + "/postgres",
                                 "-Atc", "SHOW server_version"], capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        pass
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · Python "
            f"{platform.python_version()} · PostgreSQL {server}")


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the block between `<!-- bench:name -->` markers."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = PERFORMANCE_MD.read_text() if PERFORMANCE_MD.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    PERFORMANCE_MD.parent.mkdir(parents=True, exist_ok=True)
    PERFORMANCE_MD.write_text(text)
    return PERFORMANCE_MD
