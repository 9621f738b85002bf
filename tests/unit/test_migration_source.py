"""Reading migration files: every malformed set fails with the offending file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.lib.migrations.config import load_config, parse_duration_ms
from dagster_project.lib.migrations.errors import ConfigError, MigrationSourceError
from dagster_project.lib.migrations.source import load_migrations, parse_filename


def write(directory: Path, name: str, text: str = "SELECT 1;") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_pairs_load_oldest_first_with_checksum_and_transaction_flag(tmp_path: Path):
    write(
        tmp_path,
        "202602010000_second.up.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY idx_a ON a (b);",
    )
    write(tmp_path, "202602010000_second.down.sql", "DROP INDEX idx_a;")
    write(tmp_path, "202601010000_first.up.sql", "CREATE TABLE a (b int PRIMARY KEY);")
    write(tmp_path, "202601010000_first.down.sql", "DROP TABLE a;")

    first, second = load_migrations(tmp_path)
    assert (first.version, first.slug, first.transactional) == ("202601010000", "first", True)
    assert (second.version, second.transactional, second.down_transactional) == (
        "202602010000",
        False,
        True,
    )
    assert len(first.checksum) == 64 and first.checksum != second.checksum


def test_marker_only_counts_in_the_leading_comment_block(tmp_path: Path):
    write(tmp_path, "202601010000_late_marker.up.sql", "SELECT 1;\n-- migrate:no-transaction\n")
    write(tmp_path, "202601010000_late_marker.down.sql")
    assert load_migrations(tmp_path)[0].transactional


@pytest.mark.parametrize(
    "name",
    [
        "20260101_short.up.sql",
        "202601010000-dash.up.sql",
        "202601010000_Upper.up.sql",
        "202601010000_x.sideways.sql",
        "202613010000_bad_month.up.sql",
        "202601010000_.up.sql",
    ],
)
def test_bad_file_names_are_named(tmp_path: Path, name: str):
    write(tmp_path, name)
    with pytest.raises(MigrationSourceError, match=name.replace(".", r"\.")):
        load_migrations(tmp_path)


def test_missing_pair_names_the_present_file_and_the_missing_one(tmp_path: Path):
    write(tmp_path, "202601010000_lonely.up.sql")
    with pytest.raises(
        MigrationSourceError,
        match=r"202601010000_lonely\.up\.sql: missing its pair 202601010000_lonely\.down\.sql",
    ):
        load_migrations(tmp_path)


def test_empty_down_file_is_refused(tmp_path: Path):
    write(tmp_path, "202601010000_empty.up.sql")
    write(tmp_path, "202601010000_empty.down.sql", "-- nothing to undo\n   \n")
    with pytest.raises(MigrationSourceError, match=r"202601010000_empty\.down\.sql: file is empty"):
        load_migrations(tmp_path)


def test_duplicate_version_is_refused(tmp_path: Path):
    for slug in ("one", "two"):
        write(tmp_path, f"202601010000_{slug}.up.sql")
        write(tmp_path, f"202601010000_{slug}.down.sql")
    with pytest.raises(MigrationSourceError, match="duplicate version 202601010000"):
        load_migrations(tmp_path)


def test_parse_filename_splits_parts():
    parsed = parse_filename("202611220930_add_usage_index.down.sql")
    assert (parsed.version, parsed.slug, parsed.direction) == (
        "202611220930",
        "add_usage_index",
        "down",
    )


@pytest.mark.parametrize(
    "value,expected", [("5s", 5000), ("250ms", 250), ("2min", 120000), (0, 0), (1.5, 1500)]
)
def test_durations(value, expected):
    assert parse_duration_ms(value, "lock_timeout") == expected


def test_bad_duration_names_the_key():
    with pytest.raises(ConfigError, match="lock_timeout"):
        parse_duration_ms("soon", "lock_timeout")


def test_committed_config_loads_both_targets():
    config = load_config()
    assert set(config.targets) >= {"operational", "analytics"}
    assert config.settings.lock_timeout_ms == 5000
    assert config.target("analytics").default_url.startswith("duckdb:///")
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        config.target("nope")
