"""The migration runner: every rule about when and how a migration may run lives here.

Rules: one run at a time per target (driver lock); nothing runs while a migration is dirty or an
applied file changed; new files older than the newest applied need --allow-out-of-order; protected
targets need two distinct approvers; each migration runs in its own transaction unless its file
opts out, in which case it is marked dirty first; row counts before/after and slow migrations are
recorded; every apply, rollback, repair and failure writes an audit record and a span.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from dagster_project.lib.db.errors import DatabaseMissing
from dagster_project.lib.db.postgres import redact
from dagster_project.lib.migrations import telemetry
from dagster_project.lib.migrations.config import MigrateConfig, Target, load_config
from dagster_project.lib.migrations.drivers import open_driver
from dagster_project.lib.migrations.drivers.base import (
    AppliedMigration,
    AuditRecord,
    Driver,
    HistoryWrite,
    StatementFailed,
    touched_tables,
)
from dagster_project.lib.migrations.errors import (
    ApprovalRequired,
    ChecksumMismatch,
    DirtyDatabase,
    MigrationError,
    MigrationSourceError,
    OutOfOrder,
)
from dagster_project.lib.migrations.source import Migration, load_migrations

Direction = Literal["up", "down"]
T = TypeVar("T")
RepairMode = Literal["rollback", "mark-applied", "forget"]
REQUIRED_APPROVERS = 2


def default_actor() -> str:
    return os.environ.get("MIGRATE_ACTOR") or f"{getpass.getuser()}@{socket.gethostname()}"


@dataclass(frozen=True)
class PlannedStep:
    version: str
    slug: str
    direction: Direction
    transactional: bool
    sql: str
    path: str


@dataclass
class StepResult:
    version: str
    slug: str
    direction: Direction
    duration_ms: int
    row_counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    target: str
    direction: Direction
    steps: list[StepResult] = field(default_factory=list)
    current_version: str | None = None

    @property
    def applied_versions(self) -> list[str]:
        return [step.version for step in self.steps]

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "direction": self.direction,
            "current_version": self.current_version,
            "steps": [asdict(step) for step in self.steps],
        }


@dataclass
class Status:
    target: str
    database: str
    current_version: str | None
    last_migration_at: datetime | None
    applied: int
    pending: list[str]
    dirty: list[str]
    problems: list[str]
    invalid_indexes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.dirty and not self.problems

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_migration_at"] = (
            self.last_migration_at.isoformat() if self.last_migration_at else None
        )
        data["pending_count"] = len(self.pending)
        data["is_dirty"] = bool(self.dirty)
        data["healthy"] = self.healthy
        return data


class Runner:
    def __init__(
        self,
        target: str | Target = "operational",
        *,
        config: MigrateConfig | None = None,
        url: str | None = None,
        actor: str | None = None,
    ) -> None:
        self.config = config or load_config()
        self.target = target if isinstance(target, Target) else self.config.target(target)
        self.url = self.target.url(url)
        self.actor = actor or default_actor()
        self.settings = self.config.settings
        telemetry.configure(self.config.telemetry_exporter, self.config.service_name)

    # -- reading -----------------------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        return load_migrations(self.target.directory)

    @contextmanager
    def _driver(self, *, create_database: bool = True) -> Iterator[Driver]:
        driver = open_driver(self.url, self.settings, create_database=create_database)
        try:
            yield driver
        finally:
            driver.close()

    def _read_only(self, read: Callable[[Driver], T], empty: T) -> T:
        """Read without creating anything (plan/status/validate): a missing database is `empty`."""
        try:
            with self._driver(create_database=False) as driver:
                return read(driver)
        except (DatabaseMissing, FileNotFoundError) as exc:
            if "does not exist" in str(exc):
                return empty
            raise

    def _applied_readonly(self) -> list[AppliedMigration]:
        return self._read_only(lambda driver: driver.applied(self.target.name), [])

    def drift_problems(
        self, migrations: Sequence[Migration], applied: Sequence[AppliedMigration]
    ) -> list[str]:
        """Applied migrations whose file changed or disappeared."""
        by_version = {m.version: m for m in migrations}
        found: list[str] = []
        for row in applied:
            migration = by_version.get(row.version)
            if migration is None:
                found.append(
                    f"applied migration {row.version}_{row.slug} has no file in {self.target.directory}"
                )
            elif migration.checksum != row.checksum:
                found.append(
                    f"{migration.up_path}: changed after it was applied "
                    f"(recorded sha256 {row.checksum[:12]}…, file now {migration.checksum[:12]}…)"
                )
        return found

    @staticmethod
    def order_problems(
        migrations: Sequence[Migration], applied: Sequence[AppliedMigration]
    ) -> list[str]:
        """Pending files older than the newest applied one."""
        if not applied:
            return []
        newest = max(row.version for row in applied)
        applied_versions = {row.version for row in applied}
        return [
            f"{migration.up_path}: older than the newest applied migration {newest} "
            "(rename it to a newer version, or pass --allow-out-of-order)"
            for migration in migrations
            if migration.version not in applied_versions and migration.version < newest
        ]

    def problems(
        self,
        migrations: Sequence[Migration],
        applied: Sequence[AppliedMigration],
        *,
        allow_out_of_order: bool = False,
    ) -> list[str]:
        """Everything `validate` reports: changed files, missing files, out-of-order files."""
        found = self.drift_problems(migrations, applied)
        if not allow_out_of_order:
            found += self.order_problems(migrations, applied)
        return found

    def validate(self, *, allow_out_of_order: bool = False) -> list[str]:
        with telemetry.span("migrate.validate", target=self.target.name):
            try:
                migrations = self.migrations()
            except MigrationSourceError as exc:
                return [str(exc)]
            return self.problems(
                migrations, self._applied_readonly(), allow_out_of_order=allow_out_of_order
            )

    def status(self) -> Status:
        with telemetry.span("migrate.status", target=self.target.name):
            migrations = self.migrations()
            applied, invalid = self._read_only(
                lambda driver: (driver.applied(self.target.name), driver.invalid_indexes()),
                ([], []),
            )
            applied_versions = {row.version for row in applied}
            return Status(
                target=self.target.name,
                database=redact(self.url),
                current_version=max(applied_versions) if applied_versions else None,
                last_migration_at=max((row.applied_at for row in applied), default=None),
                applied=len(applied),
                pending=[m.name for m in migrations if m.version not in applied_versions],
                dirty=[f"{row.version}_{row.slug}" for row in applied if row.dirty],
                problems=self.problems(migrations, applied),
                invalid_indexes=invalid,
            )

    def plan(
        self,
        direction: Direction = "up",
        *,
        steps: int | None = None,
        allow_out_of_order: bool = False,
    ) -> list[PlannedStep]:
        """Exactly what `up`/`down` would run, in order; reads only."""
        migrations = self.migrations()
        applied = self._applied_readonly()
        if direction == "up":
            self._refuse_unsafe_state(migrations, applied, allow_out_of_order=allow_out_of_order)
            chosen = self._pending(migrations, applied)[: steps if steps else None]
        else:
            self._refuse_unsafe_state(migrations, applied, allow_out_of_order=True)
            chosen = self._to_roll_back(migrations, applied, steps or 1)
        return [self._planned(m, direction) for m in chosen]

    def render_plan(self, planned: Sequence[PlannedStep]) -> str:
        """The SQL the database would receive, including the runner's wrapper statements."""
        blocks: list[str] = []
        for step in planned:
            header = (
                f"-- {step.version}_{step.slug} ({step.direction}, "
                f"{'transactional' if step.transactional else 'NOT transactional: marked dirty first'})"
                f"\n-- file: {step.path}"
            )
            timeouts = (
                f"SET {'LOCAL ' if step.transactional else ''}lock_timeout = {self.settings.lock_timeout_ms};\n"
                f"SET {'LOCAL ' if step.transactional else ''}statement_timeout = {self.settings.statement_timeout_ms};"
            )
            body = step.sql.strip()
            if step.transactional:
                blocks.append(f"{header}\nBEGIN;\n{timeouts}\n{body}\n-- + history row\nCOMMIT;")
            else:
                blocks.append(
                    f"{header}\n-- + history row marked dirty\n{timeouts}\n{body}\n-- + history row clean"
                )
        return "\n\n".join(blocks) + ("\n" if blocks else "")

    # -- changing ----------------------------------------------------------------------------

    def up(
        self,
        *,
        steps: int | None = None,
        allow_out_of_order: bool = False,
        approved_by: Sequence[str] = (),
    ) -> RunResult:
        self._check_approvals("apply", approved_by)
        result = RunResult(self.target.name, "up")
        with (
            telemetry.span("migrate.up", target=self.target.name, actor=self.actor),
            self._driver() as driver,
            driver.lock(self.target.name, self.settings.lock_wait_seconds),
        ):
            driver.ensure_meta()
            migrations = self.migrations()
            applied = driver.applied(self.target.name)
            self._refuse_unsafe_state(migrations, applied, allow_out_of_order=allow_out_of_order)
            for migration in self._pending(migrations, applied)[: steps if steps else None]:
                result.steps.append(self._apply(driver, migration, "up", approved_by))
            result.current_version = _current(driver.applied(self.target.name))
        return result

    def down(self, *, steps: int = 1, approved_by: Sequence[str] = ()) -> RunResult:
        if steps < 1:
            raise MigrationError("--steps must be at least 1")
        self._check_approvals("rollback", approved_by)
        result = RunResult(self.target.name, "down")
        with (
            telemetry.span("migrate.down", target=self.target.name, actor=self.actor),
            self._driver() as driver,
            driver.lock(self.target.name, self.settings.lock_wait_seconds),
        ):
            driver.ensure_meta()
            migrations = self.migrations()
            applied = driver.applied(self.target.name)
            self._refuse_unsafe_state(migrations, applied, allow_out_of_order=True)
            for migration in self._to_roll_back(migrations, applied, steps):
                result.steps.append(self._apply(driver, migration, "down", approved_by))
            result.current_version = _current(driver.applied(self.target.name))
        return result

    def down_all(self, *, approved_by: Sequence[str] = ()) -> RunResult:
        applied = self._applied_readonly()
        if not applied:
            return RunResult(self.target.name, "down")
        return self.down(steps=len(applied), approved_by=approved_by)

    def repair(self, *, version: str | None = None, mode: RepairMode = "rollback") -> list[str]:
        """Clear dirty state after a person checked the database.

        rollback: run the dirty migration's down file (written to tolerate partial state) and
        forget it, so `up` applies it again cleanly; mark-applied: the person verified it finished;
        forget: the person removed its objects by hand.
        """
        repaired: list[str] = []
        with (
            telemetry.span("migrate.repair", target=self.target.name, mode=mode),
            self._driver() as driver,
            driver.lock(self.target.name, self.settings.lock_wait_seconds),
        ):
            driver.ensure_meta()
            by_version = {m.version: m for m in self.migrations()}
            dirty = [row for row in driver.applied(self.target.name) if row.dirty]
            if version is not None:
                dirty = [row for row in dirty if row.version == version]
                if not dirty:
                    raise MigrationError(
                        f"migration {version} is not dirty on target {self.target.name!r}"
                    )
            for row in dirty:
                self._repair_one(driver, row, by_version.get(row.version), mode)
                repaired.append(f"{row.version}_{row.slug}")
        return repaired

    def _repair_one(
        self, driver: Driver, row: AppliedMigration, migration: Migration | None, mode: RepairMode
    ) -> None:
        metadata = {"mode": mode, "previous_metadata": row.metadata}
        if mode == "rollback":
            if migration is None:
                raise MigrationSourceError(
                    f"cannot roll back {row.version}_{row.slug}: its files are gone; use --mode forget"
                )
            try:
                driver.run(
                    migration.down_sql,
                    transactional=migration.down_transactional,
                    settings=self.settings,
                    history=None,
                )
            except StatementFailed as exc:
                raise MigrationError(
                    f"{migration.down_path}:{exc.line or '?'}: repair rollback failed: {exc} "
                    "(fix the database by hand, then `repair --mode forget`)"
                ) from None
            driver.write_history(HistoryWrite("delete", self.target.name, row.version))
        elif mode == "mark-applied":
            if row.metadata.get("direction") == "down":
                driver.write_history(HistoryWrite("delete", self.target.name, row.version))
            else:
                driver.write_history(
                    HistoryWrite(
                        "upsert",
                        self.target.name,
                        row.version,
                        row.slug,
                        row.checksum,
                        row.duration_ms,
                        row.applied_by,
                        False,
                        row.transactional,
                        {**row.metadata, "repaired_by": self.actor},
                    )
                )
        elif mode == "forget":
            driver.write_history(HistoryWrite("delete", self.target.name, row.version))
        else:
            raise MigrationError(f"unknown repair mode {mode!r} (rollback, mark-applied, forget)")
        driver.write_audit(
            AuditRecord(self.actor, "repair", self.target.name, row.version, metadata)
        )
        telemetry.log("migration.repaired", target=self.target.name, version=row.version, mode=mode)

    # -- internals ---------------------------------------------------------------------------

    def _check_approvals(self, action: str, approved_by: Sequence[str]) -> None:
        if not self.target.protected:
            return
        distinct = {name.strip().lower() for name in approved_by if name.strip()}
        if len(distinct) < REQUIRED_APPROVERS:
            raise ApprovalRequired(
                f"target {self.target.name!r} is protected: {action} needs {REQUIRED_APPROVERS} "
                f"distinct --approved-by names (got {len(distinct)})"
            )

    def _refuse_unsafe_state(
        self,
        migrations: Sequence[Migration],
        applied: Sequence[AppliedMigration],
        *,
        allow_out_of_order: bool,
    ) -> None:
        dirty = [row for row in applied if row.dirty]
        if dirty:
            row = dirty[0]
            raise DirtyDatabase(
                f"target {self.target.name!r} is dirty: {row.version}_{row.slug} "
                f"({row.metadata.get('direction', 'up')}) started {row.applied_at:%Y-%m-%d %H:%M:%S%z} "
                f"by {row.applied_by} and did not finish. Check the database, then run "
                f"`platformctl migrate repair --target {self.target.name}` (runs its down file) "
                "or `--mode mark-applied` if it completed"
            )
        drift = self.drift_problems(migrations, applied)
        if drift:
            raise ChecksumMismatch("; ".join(drift))
        out_of_order = [] if allow_out_of_order else self.order_problems(migrations, applied)
        if out_of_order:
            raise OutOfOrder("; ".join(out_of_order))

    @staticmethod
    def _pending(
        migrations: Sequence[Migration], applied: Sequence[AppliedMigration]
    ) -> list[Migration]:
        done = {row.version for row in applied}
        return [m for m in migrations if m.version not in done]

    @staticmethod
    def _to_roll_back(
        migrations: Sequence[Migration], applied: Sequence[AppliedMigration], steps: int
    ) -> list[Migration]:
        by_version = {m.version: m for m in migrations}
        newest_first = sorted(applied, key=lambda row: row.version, reverse=True)[:steps]
        return [by_version[row.version] for row in newest_first]

    @staticmethod
    def _planned(migration: Migration, direction: Direction) -> PlannedStep:
        if direction == "up":
            return PlannedStep(
                migration.version,
                migration.slug,
                "up",
                migration.transactional,
                migration.up_sql,
                str(migration.up_path),
            )
        return PlannedStep(
            migration.version,
            migration.slug,
            "down",
            migration.down_transactional,
            migration.down_sql,
            str(migration.down_path),
        )

    def _apply(
        self, driver: Driver, migration: Migration, direction: Direction, approved_by: Sequence[str]
    ) -> StepResult:
        step = self._planned(migration, direction)
        tables = touched_tables(step.sql)
        attributes = {
            "target": self.target.name,
            "version": migration.version,
            "slug": migration.slug,
            "direction": direction,
            "transactional": step.transactional,
        }
        with telemetry.span(f"migrate.{direction}.migration", **attributes) as span:
            before = driver.row_counts(tables, self.settings.exact_row_count_limit)
            base_metadata: dict[str, Any] = {
                "direction": direction,
                "approved_by": sorted(set(approved_by)),
            }
            if not step.transactional:
                driver.write_history(
                    self._history_row(
                        migration,
                        dirty=True,
                        duration_ms=None,
                        metadata={**base_metadata, "started": True},
                    )
                )
            started = time.monotonic()
            try:
                driver.run(
                    step.sql,
                    transactional=step.transactional,
                    settings=self.settings,
                    history=self._final_history(migration, direction, base_metadata)
                    if step.transactional
                    else None,
                )
            except StatementFailed as exc:
                self._record_failure(driver, migration, step, exc, started, base_metadata)
                raise MigrationError(
                    f"{step.path}:{exc.line or '?'}: {exc}"
                    + (f" [SQLSTATE {exc.sqlstate}]" if exc.sqlstate else "")
                    + (
                        ""
                        if step.transactional
                        else f"; target {self.target.name!r} is now dirty: check the database and run "
                        "`platformctl migrate repair`"
                    )
                ) from None
            duration_ms = int((time.monotonic() - started) * 1000)
            after = driver.row_counts(tables, self.settings.exact_row_count_limit)
            result = StepResult(
                migration.version,
                migration.slug,
                direction,
                duration_ms,
                _row_count_diff(before, after),
                self._warnings(duration_ms),
            )
            metadata = {
                **base_metadata,
                "row_counts": result.row_counts,
                "warnings": result.warnings,
                "duration_ms": duration_ms,
            }
            # The history row was written with the migration (atomically); now add what the
            # post-hooks measured. Non-transactional migrations get their clean row only now.
            if direction == "up":
                driver.write_history(
                    self._history_row(
                        migration, dirty=False, duration_ms=duration_ms, metadata=metadata
                    )
                )
            elif not step.transactional:
                driver.write_history(HistoryWrite("delete", self.target.name, migration.version))
            driver.write_audit(
                AuditRecord(
                    self.actor,
                    "apply" if direction == "up" else "rollback",
                    self.target.name,
                    migration.version,
                    {**metadata, "slug": migration.slug},
                )
            )
            span.set_attribute("duration_ms_migration", duration_ms)
            for warning in result.warnings:
                telemetry.log("migration.slow", logging.WARNING, **attributes, warning=warning)
            telemetry.log(
                f"migration.{'applied' if direction == 'up' else 'rolled_back'}",
                **attributes,
                duration_ms=duration_ms,
                row_counts=result.row_counts,
            )
            return result

    def _final_history(
        self, migration: Migration, direction: Direction, metadata: dict[str, Any]
    ) -> HistoryWrite:
        if direction == "down":
            return HistoryWrite("delete", self.target.name, migration.version)
        return self._history_row(migration, dirty=False, duration_ms=None, metadata=metadata)

    def _history_row(
        self,
        migration: Migration,
        *,
        dirty: bool,
        duration_ms: int | None,
        metadata: dict[str, Any],
    ) -> HistoryWrite:
        return HistoryWrite(
            "upsert",
            self.target.name,
            migration.version,
            migration.slug,
            migration.checksum,
            duration_ms,
            self.actor,
            dirty,
            migration.transactional,
            metadata,
        )

    def _record_failure(
        self,
        driver: Driver,
        migration: Migration,
        step: PlannedStep,
        exc: StatementFailed,
        started: float,
        metadata: dict[str, Any],
    ) -> None:
        duration_ms = int((time.monotonic() - started) * 1000)
        details = {
            **metadata,
            "error": str(exc),
            "sqlstate": exc.sqlstate,
            "line": exc.line,
            "file": step.path,
            "duration_ms": duration_ms,
            "left_dirty": not step.transactional,
        }
        if not step.transactional:
            driver.write_history(
                self._history_row(migration, dirty=True, duration_ms=duration_ms, metadata=details)
            )
        driver.write_audit(
            AuditRecord(self.actor, "failure", self.target.name, migration.version, details)
        )
        telemetry.log(
            "migration.failed",
            logging.ERROR,
            target=self.target.name,
            version=migration.version,
            direction=step.direction,
            **{k: v for k, v in details.items() if k in ("error", "sqlstate", "line")},
        )

    def _warnings(self, duration_ms: int) -> list[str]:
        threshold = self.settings.long_running_warning_seconds
        if duration_ms / 1000 > threshold:
            return [f"ran {duration_ms / 1000:.1f}s, longer than the {threshold:g}s threshold"]
        return []


def _row_count_diff(before: dict, after: dict) -> dict[str, dict[str, Any]]:
    diff: dict[str, dict[str, Any]] = {}
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table), after.get(table)
        diff[table] = {
            "before": old.rows if old else None,
            "after": new.rows if new else None,
            "exact": bool((old is None or old.exact) and (new is None or new.exact)),
        }
    return diff


def _current(applied: Sequence[AppliedMigration]) -> str | None:
    return max((row.version for row in applied), default=None)
