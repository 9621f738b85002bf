"""Read migration files: `YYYYMMDDHHMM_slug.up.sql` / `.down.sql` pairs in one directory."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dagster_project.lib.migrations.errors import MigrationSourceError

FILENAME_PATTERN = re.compile(
    r"^(?P<version>\d{12})_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)\.(?P<direction>up|down)\.sql$"
)
FILENAME_HINT = "expected YYYYMMDDHHMM_slug.up.sql / .down.sql with a lower-case snake_case slug"

# A file opts out of the per-migration transaction with this header comment (anywhere in the
# leading comment block). Needed for CREATE INDEX CONCURRENTLY and DETACH PARTITION ... CONCURRENTLY,
# which PostgreSQL refuses inside a transaction block.
NO_TRANSACTION_MARKER = re.compile(r"^\s*--\s*migrate:no-transaction\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedName:
    version: str
    slug: str
    direction: str


@dataclass(frozen=True)
class Migration:
    version: str
    slug: str
    up_path: Path
    down_path: Path
    up_sql: str
    down_sql: str

    @property
    def checksum(self) -> str:
        """sha256 of the up file's bytes: any change to an applied file is detected."""
        return hashlib.sha256(self.up_path.read_bytes()).hexdigest()

    @property
    def transactional(self) -> bool:
        return not has_no_transaction_marker(self.up_sql)

    @property
    def down_transactional(self) -> bool:
        return not has_no_transaction_marker(self.down_sql)

    @property
    def name(self) -> str:
        return f"{self.version}_{self.slug}"


def parse_filename(name: str) -> ParsedName:
    """Split a migration file name, or raise naming the file and the rule it breaks."""
    match = FILENAME_PATTERN.match(name)
    if not match:
        raise MigrationSourceError(f"{name}: bad migration file name ({FILENAME_HINT})")
    version = match["version"]
    try:
        datetime.strptime(version, "%Y%m%d%H%M")
    except ValueError:
        raise MigrationSourceError(
            f"{name}: version {version} is not a real date and time (YYYYMMDDHHMM)"
        ) from None
    return ParsedName(version, match["slug"], match["direction"])


def load_migrations(directory: Path) -> list[Migration]:
    """Every migration in `directory`, oldest first; errors name the offending file."""
    if not directory.is_dir():
        raise MigrationSourceError(f"{directory}: migrations directory does not exist")
    halves: dict[str, dict[str, Path]] = {}
    slugs: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if path.is_dir() or path.name.startswith(".") or path.name.lower() == "readme.md":
            continue
        parsed = parse_filename(path.name)
        previous_slug = slugs.setdefault(parsed.version, parsed.slug)
        if previous_slug != parsed.slug:
            raise MigrationSourceError(
                f"{path}: duplicate version {parsed.version} "
                f"(also used by {parsed.version}_{previous_slug})"
            )
        halves.setdefault(parsed.version, {})[parsed.direction] = path
    migrations = [
        _pair(version, slugs[version], files) for version, files in sorted(halves.items())
    ]
    return migrations


def _pair(version: str, slug: str, files: dict[str, Path]) -> Migration:
    for direction, other in (("up", "down"), ("down", "up")):
        if direction not in files:
            present = files[other]
            missing = present.with_name(f"{version}_{slug}.{direction}.sql")
            raise MigrationSourceError(f"{present}: missing its pair {missing.name}")
    up_sql = files["up"].read_text(encoding="utf-8")
    down_sql = files["down"].read_text(encoding="utf-8")
    for path, text in ((files["up"], up_sql), (files["down"], down_sql)):
        if not strip_sql_comments(text).strip():
            raise MigrationSourceError(f"{path}: file is empty (only whitespace or comments)")
    return Migration(version, slug, files["up"], files["down"], up_sql, down_sql)


def strip_sql_comments(text: str) -> str:
    """Remove -- line comments and /* */ block comments (good enough for emptiness checks)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", "", text)


def has_no_transaction_marker(text: str) -> bool:
    for line in text.splitlines():
        if NO_TRANSACTION_MARKER.match(line):
            return True
        if line.strip() and not line.strip().startswith("--"):
            return False  # the marker belongs in the leading comment block
    return False
