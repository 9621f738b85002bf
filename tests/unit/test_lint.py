"""Migration lint: one fixture directory per rule, each breaking exactly that rule.

squawk runs for real (the binary installed with the project), never mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dagster_project.lib import paths
from dagster_project.lib.migrations import lint
from dagster_project.lib.migrations.errors import MigrationSourceError
from dagster_project.lib.migrations.lint import (
    EXCLUDED_SQUAWK_RULES,
    LintToolError,
    LintViolation,
    find_squawk,
    lint_directory,
    lint_file,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lint"
TENANTS_UP = """\
CREATE TABLE tenants (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL
);
"""


def found(violations: list[LintViolation]) -> list[tuple[str, int, str]]:
    return [(v.path.name, v.line, v.rule) for v in violations]


def write_pair(directory: Path, name: str, up: str, down: str = "SELECT 1;\n") -> Path:
    (directory / f"{name}.down.sql").write_text(down)
    up_path = directory / f"{name}.up.sql"
    up_path.write_text(up)
    return up_path


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A directory holding one valid migration that creates `tenants`."""
    write_pair(tmp_path, "202601010000_create_tenants", TENANTS_UP, "DROP TABLE tenants;\n")
    return tmp_path


# -- one fixture per rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "file-name",
            [
                ("202613010000_add_tenant_note.down.sql", 1, "file-name"),
                ("202613010000_add_tenant_note.up.sql", 1, "file-name"),
            ],
        ),
        ("missing-pair", [("202601010100_add_tenant_note.up.sql", 1, "missing-pair")]),
        (
            "duplicate-version",
            [
                ("202601010000_add_tenant_note.down.sql", 1, "duplicate-version"),
                ("202601010000_add_tenant_note.up.sql", 1, "duplicate-version"),
                ("202601010000_create_tenants.down.sql", 1, "duplicate-version"),
                ("202601010000_create_tenants.up.sql", 1, "duplicate-version"),
            ],
        ),
        ("empty-file", [("202601010100_add_tenant_note.down.sql", 1, "empty-file")]),
        (
            "squawk",
            [
                (
                    "202601010100_index_tenant_slug.up.sql",
                    3,
                    "squawk:require-concurrent-index-creation",
                )
            ],
        ),
        (
            "transaction-marker",
            [("202601010100_index_tenant_slug.up.sql", 2, "transaction-marker")],
        ),
        ("primary-key", [("202601010100_create_audit_log.up.sql", 11, "primary-key")]),
        ("snake-case", [("202601010100_create_api_keys.up.sql", 3, "snake-case")]),
        ("naming-prefix", [("202601010100_create_api_keys.up.sql", 4, "naming-prefix")]),
        (
            "naming-prefix-unnamed-index",
            [("202601010100_create_api_keys.up.sql", 5, "naming-prefix")],
        ),
        (
            "partition-unique-key",
            [("202601010200_usage_events_id_key.up.sql", 2, "partition-unique-key")],
        ),
        (
            "drop-without-allow",
            [("202601010100_drop_tenant_slug.up.sql", 3, "drop-without-allow")],
        ),
    ],
)
def test_rule_fixture_reports_exactly_its_rule(fixture, expected):
    assert found(lint_directory(FIXTURES / fixture)) == expected


def test_every_rule_fixture_is_tested():
    tested = {
        "clean",
        "file-name",
        "missing-pair",
        "duplicate-version",
        "empty-file",
        "squawk",
        "transaction-marker",
        "primary-key",
        "snake-case",
        "naming-prefix",
        "naming-prefix-unnamed-index",
        "partition-unique-key",
        "drop-without-allow",
    }
    assert {path.name for path in FIXTURES.iterdir()} == tested


def test_clean_fixture_passes_every_rule_including_squawk():
    assert lint_directory(FIXTURES / "clean") == []


@pytest.mark.parametrize("target", ["operational", "analytics"])
def test_project_migrations_pass(target):
    assert [str(v) for v in lint_directory(paths.MIGRATIONS_DIR / target)] == []


def test_violation_prints_as_path_line_rule_message():
    violation = LintViolation(Path("m/1.up.sql"), 7, "snake-case", "column name X is bad")
    assert str(violation) == "m/1.up.sql:7: [snake-case] column name X is bad"


def test_violation_messages_name_the_problem():
    [violation] = lint_directory(FIXTURES / "partition-unique-key")
    assert "uq_usage_events_id" in violation.message
    assert "occurred_at" in violation.message
    [violation] = lint_directory(FIXTURES / "missing-pair")
    assert "202601010100_add_tenant_note.down.sql" in violation.message


# -- lint_file and directory handling ------------------------------------------------------------


def test_lint_file_reports_a_bad_name_without_raising(tmp_path):
    path = tmp_path / "add_things.sql"
    path.write_text("SELECT 1;\n")
    assert found(lint_file(path)) == [("add_things.sql", 1, "file-name")]


def test_lint_file_checks_one_file_content(migrations):
    path = migrations / "202601010100_add_note.up.sql"
    path.write_text('ALTER TABLE tenants ADD COLUMN "Note" text;\n')
    assert found(lint_file(path)) == [(path.name, 1, "snake-case")]


def test_missing_directory_raises(tmp_path):
    with pytest.raises(MigrationSourceError, match="does not exist"):
        lint_directory(tmp_path / "nope")


def test_readme_dotfiles_and_subdirectories_are_ignored(migrations):
    (migrations / "README.md").write_text("# notes\n")
    (migrations / ".keep").write_text("")
    (migrations / "archive").mkdir()
    assert lint_directory(migrations) == []


def test_non_utf8_file_is_a_violation(migrations):
    path = migrations / "202601010100_latin1.up.sql"
    path.write_bytes("SELECT 'caf\xe9';\n".encode("latin-1"))
    (migrations / "202601010100_latin1.down.sql").write_text("SELECT 1;\n")
    assert found(lint_directory(migrations)) == [(path.name, 1, "encoding")]


# -- our rules in more detail (without squawk, to keep each case to one rule) ---------------------


def lint_sql(directory: Path, up: str) -> list[tuple[str, int, str]]:
    write_pair(directory, "202601010100_change", up)
    return [(rule, line) for _, line, rule in found(lint_directory(directory, use_squawk=False))]


def test_primary_key_may_come_from_a_later_alter_table(migrations):
    up = "CREATE TABLE notes (id bigint NOT NULL);\nALTER TABLE notes ADD PRIMARY KEY (id);\n"
    assert lint_sql(migrations, up) == []


def test_primary_key_as_named_table_constraint_and_like_including_all(migrations):
    up = (
        "CREATE TABLE a (id bigint, CONSTRAINT pk_a PRIMARY KEY (id));\n"
        "CREATE TABLE b (LIKE a INCLUDING ALL);\n"
    )
    assert lint_sql(migrations, up) == []


def test_create_table_as_without_a_key_is_reported(migrations):
    assert lint_sql(migrations, "CREATE TABLE copy AS SELECT * FROM tenants;\n") == [
        ("primary-key", 1)
    ]


@pytest.mark.parametrize(
    ("up", "line"),
    [
        ("CREATE TABLE UserAccounts (id bigint PRIMARY KEY);", 1),
        ('CREATE TABLE t (id bigint PRIMARY KEY,\n "first name" text);', 2),
        ('CREATE INDEX "idx_Tenants" ON tenants (slug);', 1),
        ("ALTER TABLE tenants ADD CONSTRAINT \"ck_Slug\" CHECK (slug <> '');", 1),
        ("ALTER TABLE tenants RENAME COLUMN slug TO Slug;", 1),
        ('ALTER TABLE tenants RENAME TO "Tenants";', 1),
    ],
)
def test_snake_case_violations(migrations, up, line):
    assert lint_sql(migrations, up) == [("snake-case", line)]


def test_snake_case_accepts_quoted_lower_case_names(migrations):
    assert lint_sql(migrations, 'CREATE TABLE "notes" ("id" bigint PRIMARY KEY);') == []


@pytest.mark.parametrize(
    "up",
    [
        "CREATE INDEX tenants_slug ON tenants (slug);",
        "CREATE UNIQUE INDEX slug_key ON tenants (slug);",
        "ALTER TABLE tenants ADD CONSTRAINT tenants_slug_key UNIQUE (slug);",
        "ALTER TABLE tenants ADD CONSTRAINT slug_ok CHECK (slug <> '');",
        "ALTER TABLE tenants ADD COLUMN parent_id bigint CONSTRAINT parent REFERENCES tenants;",
        "CREATE TABLE n (id bigint, CONSTRAINT n_key PRIMARY KEY (id));",
        "ALTER INDEX idx_tenants_slug RENAME TO tenants_slug;",
    ],
)
def test_naming_prefix_violations(migrations, up):
    assert lint_sql(migrations, up) == [("naming-prefix", 1)]


@pytest.mark.parametrize(
    "up",
    [
        "CREATE INDEX idx_tenants_slug ON tenants (slug);",
        "CREATE UNIQUE INDEX uq_tenants_slug ON tenants (slug);",
        "CREATE UNIQUE INDEX idx_tenants_slug ON tenants (slug);",
        "ALTER TABLE tenants ADD CONSTRAINT uq_tenants_slug UNIQUE USING INDEX uq_tenants_slug;",
        "CREATE TABLE n (id bigint, CONSTRAINT n_pkey PRIMARY KEY (id));",
        "CREATE TABLE n (id bigint CONSTRAINT pk_n PRIMARY KEY, t bigint CONSTRAINT fk_n_t "
        "REFERENCES tenants (id), CONSTRAINT ck_n_id CHECK (id > 0));",
        "CREATE TABLE n (id bigint PRIMARY KEY, t bigint REFERENCES tenants (id), UNIQUE (t));",
    ],
)
def test_naming_prefix_passes(migrations, up):
    assert lint_sql(migrations, up) == []


PARTITIONED = """\
CREATE TABLE events (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
"""


@pytest.mark.parametrize(
    ("later", "line"),
    [
        ("ALTER TABLE events ADD CONSTRAINT uq_events_id UNIQUE (id);", 1),
        ("CREATE UNIQUE INDEX uq_events_tenant ON events (tenant_id, lower(x));", 1),
        ("CREATE TABLE e2 (id bigint PRIMARY KEY, at date) PARTITION BY LIST (at);", 1),
        (
            "CREATE TABLE e3 (\n  id bigint,\n  at date,\n  PRIMARY KEY (id, at),\n  UNIQUE (id)\n)"
            " PARTITION BY HASH (at);",
            5,
        ),
    ],
)
def test_partition_unique_key_violations(migrations, later, line):
    write_pair(migrations, "202601010050_create_events", PARTITIONED)
    assert lint_sql(migrations, later) == [("partition-unique-key", line)]


def test_partition_unique_key_passes_when_key_is_included(migrations):
    write_pair(migrations, "202601010050_create_events", PARTITIONED)
    later = (
        "ALTER TABLE events ADD CONSTRAINT uq_events_id UNIQUE (id, occurred_at);\n"
        "CREATE UNIQUE INDEX uq_events_tenant ON ONLY events (tenant_id, occurred_at DESC);\n"
        "CREATE INDEX idx_events_tenant ON events (tenant_id);\n"
    )
    assert lint_sql(migrations, later) == []


def test_partitioned_by_an_expression_allows_no_unique_key(migrations):
    up = "CREATE TABLE d (id bigint, at timestamptz, PRIMARY KEY (id, at))\n"
    up += "PARTITION BY RANGE (date_trunc('day', at));\n"
    assert lint_sql(migrations, up) == [("partition-unique-key", 1)]


def test_recreating_a_table_unpartitioned_forgets_its_partition_key(migrations):
    write_pair(migrations, "202601010050_create_events", PARTITIONED)
    later = (
        "-- lint:allow-drop replaced by a plain table\nDROP TABLE events;\n"
        "CREATE TABLE events (id bigint PRIMARY KEY);\n"
        "CREATE UNIQUE INDEX uq_events_id ON events (id);\n"
    )
    assert lint_sql(migrations, later) == []


@pytest.mark.parametrize(
    ("up", "line"),
    [
        ("DROP TABLE tenants;", 1),
        ("-- tidy up\nALTER TABLE tenants\n  ALTER COLUMN slug DROP NOT NULL;", 3),
        ("-- migrate:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS idx_x;", 2),
        ("DO $$\nBEGIN\n  EXECUTE 'drop table tenants';\nEND\n$$;", 3),
        ("SELECT 1;\n-- lint:allow-drop\nDROP TABLE tenants;", 3),  # a reason is required
    ],
)
def test_drop_without_allow(migrations, up, line):
    assert lint_sql(migrations, up) == [("drop-without-allow", line)]


def test_drop_allowed_with_a_reason_anywhere_in_the_file(migrations):
    up = "DROP TABLE tenants;\n-- lint:allow-drop nothing reads it since release 42\n"
    assert lint_sql(migrations, up) == []


def test_allow_drop_needs_a_reason_and_says_so(migrations):
    write_pair(migrations, "202601010100_change", "-- lint:allow-drop\nDROP TABLE tenants;\n")
    [violation] = lint_directory(migrations, use_squawk=False)
    assert "reason" in violation.message


@pytest.mark.parametrize(
    "up",
    [
        "CREATE FUNCTION purge() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE x; END $$;",
        "CREATE TEMP TABLE scratch (id bigint PRIMARY KEY) ON COMMIT DROP;",
        "COMMENT ON TABLE tenants IS 'never drop this';",
        "ALTER TABLE tenants ADD COLUMN drop_reason text;",
    ],
)
def test_things_that_only_look_like_drops(migrations, up):
    assert lint_sql(migrations, up) == []


def test_down_files_may_drop_and_skip_ddl_rules(migrations):
    write_pair(migrations, "202601010100_change", "SELECT 1;\n", 'DROP TABLE "BadName";\n')
    assert lint_directory(migrations) == []


@pytest.mark.parametrize("direction", ["up", "down"])
def test_transaction_marker_applies_to_both_directions(migrations, direction):
    concurrent = "DROP INDEX CONCURRENTLY IF EXISTS idx_tenants_slug;\n"
    up, down = ("SELECT 1;\n", concurrent) if direction == "down" else (concurrent, "SELECT 1;\n")
    up = "-- lint:allow-drop old index\n" + up
    write_pair(migrations, "202601010100_change", up, down)
    line = 2 if direction == "up" else 1
    assert found(lint_directory(migrations, use_squawk=False)) == [
        (f"202601010100_change.{direction}.sql", line, "transaction-marker")
    ]


# -- squawk --------------------------------------------------------------------------------------


def test_squawk_binary_is_the_one_installed_with_the_project():
    assert Path(find_squawk()).parent == Path(sys.executable).parent


def test_squawk_sees_no_transaction_files_as_such(migrations):
    # Without a transaction a failed run leaves earlier statements applied, so squawk wants
    # statements that can be re-run; inside one it does not.
    up = "ALTER TABLE tenants ADD COLUMN note text;\n"
    in_transaction = write_pair(migrations, "202601010100_note", up)
    assert lint_file(in_transaction) == []
    without = write_pair(migrations, "202601010200_note2", "-- migrate:no-transaction\n" + up)
    assert found(lint_file(without)) == [(without.name, 2, "squawk:prefer-robust-stmts")]


def test_lint_allow_comment_silences_one_squawk_rule(migrations):
    up = "-- lint:allow squawk:require-concurrent-index-creation table is tiny\n"
    up += "CREATE INDEX idx_tenants_slug ON tenants (slug);\n"
    path = write_pair(migrations, "202601010100_index", up)
    assert lint_file(path) == []


def test_lint_allow_comment_leaves_other_squawk_rules_on(migrations):
    up = "-- lint:allow squawk:prefer-robust-stmts\n\n"
    up += "CREATE INDEX idx_tenants_slug ON tenants (slug);\n"
    path = write_pair(migrations, "202601010100_index", up)
    assert found(lint_file(path)) == [(path.name, 3, "squawk:require-concurrent-index-creation")]


def test_squawks_own_ignore_comment_works_too(migrations):
    up = "-- squawk-ignore require-concurrent-index-creation\n"
    up += "CREATE INDEX idx_tenants_slug ON tenants (slug);\n"
    path = write_pair(migrations, "202601010100_index", up)
    assert lint_file(path) == []


def test_excluded_squawk_rules_are_not_reported(migrations):
    # int columns (prefer-bigint-over-int), varchar (prefer-text-field), no SET lock_timeout
    # (require-lock-timeout) on an ALTER of a live table: all excluded on purpose.
    up = "ALTER TABLE tenants ADD COLUMN seats int, ADD COLUMN label varchar(40);\n"
    path = write_pair(migrations, "202601010100_seats", up)
    assert lint_file(path) == []
    assert "require-lock-timeout" in EXCLUDED_SQUAWK_RULES


def test_squawk_syntax_errors_are_violations(migrations):
    path = write_pair(migrations, "202601010100_typo", "SELECT 1;\n\nALTER TABLE tenants ADD;\n")
    assert {(line, rule) for _, line, rule in found(lint_file(path))} == {
        (3, "squawk:syntax-error")
    }


def test_a_squawk_config_in_the_working_directory_is_ignored(migrations, monkeypatch):
    (migrations / ".squawk.toml").write_text(
        'excluded_rules = ["require-concurrent-index-creation"]\n'
    )
    monkeypatch.chdir(migrations)
    path = write_pair(migrations, "202601010100_index", "CREATE INDEX idx_t ON tenants (slug);\n")
    assert found(lint_file(path)) == [(path.name, 1, "squawk:require-concurrent-index-creation")]


def test_missing_squawk_is_a_clear_error(migrations, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-python-here" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    path = write_pair(migrations, "202601010100_index", "SELECT 1;\n")
    with pytest.raises(LintToolError, match="squawk is not installed"):
        lint_file(path)
    assert lint_file(path, use_squawk=False) == []


def test_squawk_failure_is_a_clear_error(migrations, monkeypatch):
    # e.g. a squawk upgrade renamed a rule we exclude: squawk refuses to run, and we say so.
    monkeypatch.setattr(lint, "EXCLUDED_SQUAWK_RULES", ("no-such-rule",))
    path = write_pair(migrations, "202601010100_index", "SELECT 1;\n")
    with pytest.raises(LintToolError, match="squawk failed: .*no-such-rule"):
        lint_file(path)


def test_squawk_runs_without_network():
    """squawk needs no network: it runs the same in a Linux network namespace with none."""
    no_network = ["unshare", "--user", "--net"]
    try:
        subprocess.run([*no_network, "true"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot create a network namespace here")
    result = subprocess.run(
        [*no_network, find_squawk(), "--reporter", "json", "--config", os.devnull],
        input=b"CREATE INDEX idx_t ON t (a);\n",
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert b"require-concurrent-index-creation" in result.stdout


def test_table_without_primary_key_allowed_with_a_reason(migrations):
    up = "-- lint:allow-no-primary-key rows are checked by the loader\nCREATE TABLE t (id int);\n"
    assert lint_sql(migrations, up) == []


def test_allow_no_primary_key_needs_a_reason_and_says_so(migrations):
    write_pair(
        migrations,
        "202601010100_change",
        "-- lint:allow-no-primary-key\nCREATE TABLE t (id int);\n",
    )
    [violation] = lint_directory(migrations, use_squawk=False)
    assert violation.rule == "primary-key" and "reason" in violation.message
