"""Generated docs and data classification against a real PostgreSQL (issue 3, governance).

The fixture migration set `basic` plays the schema; tests/fixtures/docs/basic-classification.yml
classifies it. The last test keeps the committed docs/ in sync with migrations/operational and
configs/data-classification.yml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from dagster_project.lib import paths
from dagster_project.lib.docs.catalog import read_catalog
from dagster_project.lib.docs.classification import (
    ClassificationError,
    check,
    load_classification,
)
from dagster_project.lib.docs.generate import render_all, write_all
from dagster_project.lib.docs.validate import migrated_catalog, validate
from dagster_project.lib.migrations.config import load_config
from dagster_project.lib.migrations.runner import Runner

PLATFORMCTL = [sys.executable, "-m", "dagster_project.cli"]
CLASSIFICATION = (
    Path(__file__).resolve().parents[1] / "fixtures" / "docs" / "basic-classification.yml"
)


def platformctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PLATFORMCTL, *args], capture_output=True, text=True, env={**os.environ}, timeout=120
    )


def execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def classification_with(tmp_path: Path, changes: dict[str, dict[str, dict | None]]) -> Path:
    """The fixture classification with columns added, replaced or (value None) removed."""
    data = yaml.safe_load(CLASSIFICATION.read_text())
    for table, columns in changes.items():
        entries = data["tables"].setdefault(table, {})
        for column, spec in columns.items():
            if spec is None:
                entries.pop(column)
            else:
                entries[column] = spec
    path = tmp_path / "classification.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def basic_config(write_migrate_config, fresh_db_url) -> Path:
    return write_migrate_config("basic", fresh_db_url)


@pytest.fixture
def live_db(basic_config, fresh_db_url) -> str:
    """fresh_db_url with the `basic` migrations applied."""
    Runner("operational", config=load_config(basic_config), actor="test-docs").up()
    return fresh_db_url


def test_generation_is_deterministic_and_scratch_equals_live(basic_config, live_db, tmp_path):
    config = load_config(basic_config)
    classification = load_classification(CLASSIFICATION)
    first = render_all(migrated_catalog(config), classification)
    second = render_all(migrated_catalog(config), classification)  # another scratch database
    assert first == second
    assert render_all(read_catalog(live_db), classification) == first
    assert sorted(first) == ["dictionary.md", "erd/README.md", "erd/schema.mmd", "erd/schema.puml"]

    for out in ("a", "b"):
        result = platformctl(
            "docs",
            "generate",
            "--config",
            str(basic_config),
            "--classification",
            str(CLASSIFICATION),
            "--out",
            str(tmp_path / out),
        )
        assert result.returncode == 0, result.stderr
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_text() == first[name]

    dictionary = first["dictionary.md"]
    assert "| `name` | `text` | not null |  | unique | confidential | until_deleted |" in dictionary
    assert "- out: (`account_id`) → `public.accounts` (`id`) via `fk_notes_account`" in dictionary
    assert "- in: `public.notes` (`account_id`) → (`id`) via `fk_notes_account`" in dictionary
    assert "accounts ||--o{ notes : fk_notes_account" in first["erd/schema.puml"]
    assert '    accounts ||--o{ notes : "fk_notes_account"' in first["erd/schema.mmd"]
    assert "```mermaid\n" + first["erd/schema.mmd"] + "```\n" in first["erd/README.md"]


def test_validate_passes_after_generate_and_names_a_new_column(live_db, tmp_path):
    common = ["--database-url", live_db, "--classification", str(CLASSIFICATION)]
    generated = platformctl("docs", "generate", *common, "--out", str(tmp_path))
    assert generated.returncode == 0, generated.stderr
    clean = platformctl("docs", "validate", *common, "--docs-dir", str(tmp_path))
    assert clean.returncode == 0, clean.stderr + clean.stdout

    execute(live_db, "ALTER TABLE notes ADD COLUMN extra text")
    drifted = platformctl("docs", "validate", *common, "--docs-dir", str(tmp_path))

    assert drifted.returncode == 1
    assert "in `public.notes` / Columns: + | `extra` | `text` | null |" in drifted.stderr
    assert "public.notes.extra: not classified" in drifted.stderr
    assert "+| `extra` | `text`" in drifted.stdout  # the unified diff
    assert "erd/schema.mmd: in notes: + text extra" in drifted.stderr


def test_partition_maintenance_causes_no_drift(live_db, tmp_path):
    """Daily partitions come and go (lib/partitions): created ahead, detached past retention and
    kept as `<parent>_pYYYYMMDD_detached`, or left plain by an interrupted detach."""
    execute(
        live_db,
        """
        CREATE TABLE events (id bigint NOT NULL, account_id bigint NOT NULL REFERENCES accounts,
                             at timestamptz NOT NULL) PARTITION BY RANGE (at);
        CREATE TABLE events_default PARTITION OF events DEFAULT;
        CREATE TABLE events_p20260101 PARTITION OF events
            FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
        CREATE TABLE events_p20260102 PARTITION OF events
            FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
        """,
    )
    internal = {"classification": "internal", "retention": "90d"}
    classification = load_classification(
        classification_with(
            tmp_path, {"public.events": {"id": internal, "account_id": internal, "at": internal}}
        )
    )
    write_all(render_all(read_catalog(live_db), classification), tmp_path)
    dictionary = (tmp_path / "dictionary.md").read_text()
    assert (
        "`RANGE (at)`" in dictionary
        and "(default partition: `public.events_default`)" in dictionary
    )
    assert "events_p2026" not in dictionary

    execute(
        live_db,
        """
        CREATE TABLE events_p20260103 PARTITION OF events
            FOR VALUES FROM ('2026-01-03') TO ('2026-01-04');
        ALTER TABLE events DETACH PARTITION events_p20260101;
        ALTER TABLE events_p20260101 RENAME TO events_p20260101_detached;
        ALTER TABLE events DETACH PARTITION events_p20260102;
        """,
    )
    report = validate(read_catalog(live_db), classification, tmp_path)
    assert report.ok, report.drift + report.classification


def test_unclassified_and_unknown_columns_are_named(live_db, tmp_path):
    path = classification_with(
        tmp_path,
        {
            "public.notes": {
                "body": None,
                "title": {"classification": "internal", "retention": "1y"},
            },
            "public.ghosts": {"id": {"classification": "public", "retention": "1y"}},
            "public.accounts": {"name": {"classification": "private", "retention": "forever"}},
        },
    )
    problems = check(read_catalog(live_db), load_classification(path))
    assert problems == [
        "public.accounts.name: classification 'private' is not one of public, internal, "
        "confidential, secret",
        "public.accounts.name: retention 'forever' is not e.g. 30d, 12w, 13mo, 7y or until_deleted",
        "public.notes.body: not classified",
        "public.notes.title: classified but no such column",
        "public.ghosts: classified but no such table",
    ]
    result = platformctl(
        "docs", "classify-check", "--database-url", live_db, "--classification", str(path)
    )
    assert result.returncode == 1
    assert "public.notes.body: not classified" in result.stderr


def test_a_misspelt_key_is_an_error_not_a_missing_value(tmp_path):
    path = tmp_path / "classification.yml"
    path.write_text("tables:\n  public.notes:\n    id: {classification: internal, retension: 1y}\n")
    with pytest.raises(
        ClassificationError,
        match=r"public.notes.id.retension: unknown key \(did you mean retention\?",
    ):
        load_classification(path)


SECRET = {"classification": "secret", "retention": "until_deleted", "storage": "sha256"}


@pytest.mark.parametrize(
    ("column_sql", "storage", "ok"),
    [
        ("text", "sha256", False),  # plaintext fits
        ("char(64)", "sha256", False),  # right size, but any 64 characters fit
        ("bytea", "sha256", False),
        ("bytea CONSTRAINT ck_token CHECK (octet_length(token) = 32)", "sha256", True),
        ("bytea CONSTRAINT ck_token CHECK (octet_length(token) = 32)", "sha512", False),
        ("char(64) CONSTRAINT ck_token CHECK (token ~ '^[0-9a-f]{64}$')", "hmac_sha256", True),
        (
            "text CONSTRAINT ck_token CHECK (token ~ '^[0-9a-f]{64}$' AND token <> '')",
            "sha256",
            True,
        ),
        (
            "text CONSTRAINT ck_token CHECK (token ~ '^[0-9a-f]{64}$' OR length(token) > 0)",
            "sha256",
            False,
        ),  # the OR lets anything non-empty in
        ("text CONSTRAINT ck_token CHECK (NOT (token ~ '^[0-9a-f]{64}$'))", "sha256", False),
        ("public.digest32", "sha256", True),  # a domain carrying the CHECK
        ("bytea CONSTRAINT ck_token CHECK (octet_length(token) >= 29)", "encrypted", True),
        ("text", "encrypted", False),
        ("bytea", None, False),  # a secret must say how it is stored
    ],
)
def test_secret_columns_must_be_unable_to_hold_plaintext(
    live_db, tmp_path, column_sql, storage, ok
):
    execute(live_db, "CREATE DOMAIN digest32 AS bytea CHECK (octet_length(VALUE) = 32)")
    execute(live_db, f"ALTER TABLE accounts ADD COLUMN token {column_sql}")
    spec = (
        {**SECRET, "storage": storage}
        if storage
        else {k: v for k, v in SECRET.items() if k != "storage"}
    )
    path = classification_with(tmp_path, {"public.accounts": {"token": spec}})
    problems = check(read_catalog(live_db), load_classification(path))
    if ok:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith("public.accounts.token: ")
        assert "plaintext" in problems[0] or "storage" in problems[0]


def test_not_valid_check_does_not_protect_a_secret(live_db, tmp_path):
    execute(live_db, "ALTER TABLE accounts ADD COLUMN token bytea")
    execute(
        live_db,
        "ALTER TABLE accounts ADD CONSTRAINT ck_token CHECK (octet_length(token) = 32) NOT VALID",
    )  # old rows are unchecked
    path = classification_with(tmp_path, {"public.accounts": {"token": SECRET}})
    problems = check(read_catalog(live_db), load_classification(path))
    assert problems and "could hold plaintext" in problems[0]


def test_committed_docs_match_the_operational_migrations(pg_server_url):
    """docs/dictionary.md and docs/erd/* are what `platformctl docs generate` writes for
    migrations/operational and configs/data-classification.yml. On failure: run
    `platformctl docs generate` (or `make db-docs-generate`) and commit the result."""
    catalog = migrated_catalog(load_config(), server_url=pg_server_url)
    report = validate(catalog, load_classification(), paths.DOCS_DIR)
    assert report.ok, "\n".join([*report.drift, *report.classification, report.diff[:5000]])
