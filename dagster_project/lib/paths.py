"""Where the project's files live, independent of the current directory."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("PLATFORM_PROJECT_ROOT", Path(__file__).resolve().parents[2]))
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
CONFIGS_DIR = PROJECT_ROOT / "configs"
SEEDS_DIR = PROJECT_ROOT / "seeds"
DATA_DIR = PROJECT_ROOT / ".data"
DOCS_DIR = PROJECT_ROOT / "docs"
