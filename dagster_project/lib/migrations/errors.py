"""Errors a user can act on. The CLI prints their message as one line, no traceback."""

from dagster_project.lib.errors import PlatformError


class MigrationError(PlatformError):
    """Base class: something about the migrations or the database state needs a person."""


class MigrationSourceError(MigrationError):
    """A migration file is misnamed, unpaired, empty or duplicated."""


class ChecksumMismatch(MigrationError):
    """An applied migration's file changed after it was applied."""


class DirtyDatabase(MigrationError):
    """A migration started and did not finish; a person must check and run repair."""


class OutOfOrder(MigrationError):
    """A pending migration is older than the newest applied one."""


class LockNotAcquired(MigrationError):
    """Another migration run holds the target's lock."""


class ApprovalRequired(MigrationError):
    """A protected target needs two distinct approvers."""


class ConfigError(MigrationError):
    """configs/migrate.yaml is missing a value or holds a bad one."""
