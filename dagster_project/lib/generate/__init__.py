"""Synthetic usage traffic for the seeded tenants: `platformctl generate-usage`.

    manifest = generate_usage(GenerateOptions(output=Path("data/landing/"), days=3, seed=7))
    manifest["expected_ingest"]  # {"submitted": ..., "accepted": ..., "duplicates": ..., "quarantined": ...}

Plain Python (numpy + pyarrow), no Dagster: generator.py (options, hours, manifest),
traffic.py (vectorised rows), invalid.py (what ingestion must quarantine), output.py (writers),
catalog.py (the seeded organizations, keys, users and models, read from seeds/).
"""

from dagster_project.lib.generate.catalog import Catalog, load_catalog
from dagster_project.lib.generate.generator import GenerateOptions, generate_usage, plan
from dagster_project.lib.generate.invalid import KINDS as INVALID_KINDS

__all__ = ["INVALID_KINDS", "Catalog", "GenerateOptions", "generate_usage", "load_catalog", "plan"]
