"""One conformance suite for every migration driver, run unchanged against each of them.

As golang-migrate tests every database driver with one shared suite (its `dktesting` +
`database/testing.Test`), each test here takes a `target` (a URL on a real PostgreSQL or a real
DuckDB file) and speaks only the Driver interface. A new driver joins by adding its URL factory
to DRIVERS; if it passes this file, the runner's rules hold on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dagster_project.lib.migrations.config import Settings
from dagster_project.lib.migrations.drivers import open_driver
from dagster_project.lib.migrations.drivers.base import (
    AuditRecord,
    Driver,
    HistoryWrite,
    StatementFailed,
)
from dagster_project.lib.migrations.errors import DatabaseMissing, LockNotAcquired

CHECKSUM = "0" * 64
SETTINGS = Settings()
CREATE = "CREATE TABLE widgets (id integer PRIMARY KEY, name varchar NOT NULL);\n"
FILL = "INSERT INTO widgets VALUES (1, 'a');\nINSERT INTO widgets VALUES (2, 'b');\n"


@dataclass(frozen=True)
class Target:
    kind: str
    url: str  # an existing, empty database
    missing_url: str  # a database that does not exist

    def open(self, *, create_database: bool = False) -> Driver:
        return open_driver(self.url, SETTINGS, create_database=create_database)


def _postgres(make_db_url: Callable[[], str], tmp_path: Path) -> Target:
    url = make_db_url()
    return Target("postgres", url, url + "_missing")


def _duckdb(make_db_url: Callable[[], str], tmp_path: Path) -> Target:
    (tmp_path / "warehouse.duckdb").unlink(missing_ok=True)
    open_driver(f"duckdb:///{tmp_path / 'warehouse.duckdb'}", SETTINGS).close()
    return Target(
        "duckdb",
        f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        f"duckdb:///{tmp_path / 'no.duckdb'}",
    )


DRIVERS = {"postgres": _postgres, "duckdb": _duckdb}


@pytest.fixture(params=sorted(DRIVERS))
def target(request: pytest.FixtureRequest, make_db_url, tmp_path: Path) -> Target:
    return DRIVERS[request.param](make_db_url, tmp_path)


def upsert(version: str, *, dirty: bool = False, slug: str = "widgets") -> HistoryWrite:
    return HistoryWrite(
        "upsert",
        "conformance",
        version,
        slug,
        CHECKSUM,
        12,
        "tester",
        dirty,
        True,
        {"k": "v"},
    )


def widgets_exist(driver: Driver) -> bool:
    return "widgets" in driver.row_counts(["widgets"], 1000)


def audit_count(driver: Driver) -> int:
    return driver.execute("SELECT count(*) FROM platform_meta.migration_audit")[0][0]


# -- opening -------------------------------------------------------------------------------------


def test_a_missing_database_is_a_typed_error_and_is_not_created(target: Target):
    with pytest.raises(DatabaseMissing, match="does not exist"):
        open_driver(target.missing_url, SETTINGS, create_database=False)
    with pytest.raises(DatabaseMissing):  # still missing: the failed open created nothing
        open_driver(target.missing_url, SETTINGS, create_database=False)


def test_create_database_creates_an_empty_target(target: Target):
    with open_driver(target.missing_url, SETTINGS, create_database=True) as driver:
        assert driver.applied("conformance") == []
    with open_driver(target.missing_url, SETTINGS, create_database=False) as driver:
        assert driver.kind == target.kind
    if target.kind == "postgres":
        from dagster_project.lib.db.postgres import drop_database

        drop_database(target.missing_url)


def test_history_is_empty_before_and_after_ensure_meta_which_is_idempotent(target: Target):
    with target.open() as driver:
        assert driver.applied("conformance") == []
        driver.ensure_meta()
        driver.ensure_meta()
        assert driver.applied("conformance") == []
        assert audit_count(driver) == 0


# -- running a migration ---------------------------------------------------------------------------


def test_transactional_run_commits_the_sql_and_its_history_together(target: Target):
    with target.open() as driver:
        driver.ensure_meta()
        driver.run(CREATE + FILL, transactional=True, settings=SETTINGS, finish=lambda: upsert("1"))
    with target.open() as driver:  # a new connection sees both
        assert driver.row_counts(["widgets"], 1000)["widgets"].rows == 2
        (row,) = driver.applied("conformance")
        assert (row.version, row.slug, row.dirty, row.duration_ms, row.metadata) == (
            "1",
            "widgets",
            False,
            12,
            {"k": "v"},
        )


def test_transactional_failure_leaves_neither_the_sql_nor_history(target: Target):
    finished: list[bool] = []
    with target.open() as driver:
        driver.ensure_meta()
        with pytest.raises(StatementFailed) as failure:
            driver.run(
                CREATE + "INSERT INTO no_such_table VALUES (1);\n",
                transactional=True,
                settings=SETTINGS,
                finish=lambda: finished.append(True) or upsert("1"),
            )
        assert failure.value.line == 2
        assert not finished
        assert not widgets_exist(driver)
        assert driver.applied("conformance") == []


def test_a_failing_finish_rolls_the_transactional_sql_back(target: Target):
    def finish() -> HistoryWrite:
        raise RuntimeError("post-hook failed")

    with target.open() as driver:
        driver.ensure_meta()
        with pytest.raises(RuntimeError, match="post-hook"):
            driver.run(CREATE, transactional=True, settings=SETTINGS, finish=finish)
        assert not widgets_exist(driver)
        assert driver.applied("conformance") == []


def test_finish_runs_after_the_sql_and_sees_its_changes(target: Target):
    seen: dict[str, int] = {}

    def finish() -> HistoryWrite:
        seen.update({t: c.rows for t, c in driver.row_counts(["widgets"], 1000).items()})
        return upsert("1")

    with target.open() as driver:
        driver.ensure_meta()
        driver.run(CREATE + FILL, transactional=True, settings=SETTINGS, finish=finish)
    assert seen == {"widgets": 2}


def test_non_transactional_run_keeps_the_statements_before_a_failure(target: Target):
    with target.open() as driver:
        driver.ensure_meta()
        with pytest.raises(StatementFailed) as failure:
            driver.run(
                CREATE + "INSERT INTO no_such_table VALUES (1);\n",
                transactional=False,
                settings=SETTINGS,
                finish=lambda: upsert("1"),
            )
        assert failure.value.line == 2
        assert widgets_exist(driver)
        assert driver.applied("conformance") == []


def test_statements_for_another_engine_are_skipped(target: Target):
    other = "duckdb" if target.kind == "postgres" else "postgres"
    sql = (
        CREATE
        + f"-- migrate:only {other}\nINSERT INTO no_such_table VALUES (1);\n"
        + f"-- migrate:only {target.kind}\nINSERT INTO widgets VALUES (7, 'mine');\n"
    )
    with target.open() as driver:
        driver.ensure_meta()
        driver.run(sql, transactional=True, settings=SETTINGS, finish=lambda: upsert("1"))
        assert driver.execute("SELECT id FROM widgets") == [(7,)]


# -- history and audit ----------------------------------------------------------------------------


def test_history_upsert_replaces_the_row_and_delete_removes_it(target: Target):
    with target.open() as driver:
        driver.ensure_meta()
        driver.write_history(upsert("1", dirty=True))
        driver.write_history(upsert("2"))
        driver.write_history(upsert("1", slug="renamed"))
        assert [(r.version, r.slug, r.dirty) for r in driver.applied("conformance")] == [
            ("1", "renamed", False),
            ("2", "widgets", False),
        ]
        assert driver.applied("another_target") == []
        driver.write_history(HistoryWrite("delete", "conformance", "1"))
        assert [r.version for r in driver.applied("conformance")] == ["2"]


def test_audit_records_commit_with_their_transaction_only(target: Target):
    record = AuditRecord("tester", "apply", "conformance", "1", {"n": 1})
    with target.open() as driver:
        driver.ensure_meta()
        with pytest.raises(RuntimeError), driver.transaction():
            driver.write_audit(record)
            raise RuntimeError("hook failed")
        assert audit_count(driver) == 0
        with driver.transaction():
            driver.write_audit(record)
        assert audit_count(driver) == 1


# -- lock, counts, catalog --------------------------------------------------------------------------


def test_lock_is_exclusive_per_target_with_a_bounded_wait_naming_the_holder(target: Target):
    with target.open() as first, target.open() as second:
        with first.lock("conformance", 0):
            started = time.monotonic()
            with (
                pytest.raises(LockNotAcquired, match=r"locked: .*pid \d+"),
                second.lock("conformance", 0.5),
            ):
                pass
            waited = time.monotonic() - started
            assert 0.5 <= waited < 3, waited
            with second.lock("another_target", 0):  # other targets are not blocked
                pass
        with second.lock("conformance", 0):  # released when the holder is done
            pass


def test_row_counts_leave_out_missing_tables(target: Target):
    with target.open() as driver:
        driver.run(CREATE + FILL, transactional=True, settings=SETTINGS)
        counts = driver.row_counts(["widgets", "no_such_table"], 1000)
        assert list(counts) == ["widgets"]
        assert (counts["widgets"].rows, counts["widgets"].exact) == (2, True)


def test_catalog_shows_user_objects_and_not_the_meta_schema(target: Target):
    with target.open() as driver:
        driver.ensure_meta()
        before = driver.catalog()
        assert not any("platform_meta" in " ".join(row) for row in before)
        driver.run(CREATE, transactional=True, settings=SETTINGS)
        after = driver.catalog()
        assert widgets_exist(driver) and any("widgets" in row[1] for row in after)
        driver.run("DROP TABLE widgets;", transactional=True, settings=SETTINGS)
        assert driver.catalog() == before
        assert driver.invalid_indexes() == []
