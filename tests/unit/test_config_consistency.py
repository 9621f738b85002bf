"""Settings stated in two config files must agree, or one of them silently lies."""

from __future__ import annotations

from dagster_project.lib.docs.classification import load_classification
from dagster_project.lib.partitions.config import load_policy


def test_usage_event_retention_matches_partition_retention():
    policy = load_policy()
    classified = load_classification().tables[policy.table]
    retentions = {column: entry.retention for column, entry in classified.items()}
    expected = f"{policy.retention_days}d"
    assert set(retentions.values()) == {expected}, (
        f"configs/data-classification.yml gives {policy.table} retentions {retentions}; "
        f"configs/partitions.yaml retires partitions after {expected}"
    )
