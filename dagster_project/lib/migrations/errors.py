"""Errors a user can act on. The CLI prints their message as one line, no traceback."""

from dagster_project.lib.db import errors as db
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


class TransactionControlInFile(MigrationSourceError):
    """A file the runner wraps in a transaction contains BEGIN, COMMIT, ROLLBACK or the like."""


# -- the target does not answer as a migration target should ------------------------------------
# Each kind has its own exit code, so a health probe (`platformctl migrate status`) can tell
# them apart; docs/runbooks/migrations.md lists them. 1 stays "any other error", 2 "dirty or
# drifted" (status). Each is also the lib/db/errors kind with the same code, so code that
# catches `db.DatabaseMissing` (say) catches the migration driver's too.


class TargetUnavailable(MigrationError):
    """The target database cannot be read; `exit_code` says why."""

    exit_code = 1


class DatabaseMissing(TargetUnavailable, db.DatabaseMissing):
    """The server answers, the credentials work, the database (or DuckDB file) does not exist."""

    exit_code = 3


class AuthenticationRefused(TargetUnavailable, db.AuthenticationFailed):
    """The server answers but refuses the role or its credentials."""

    exit_code = 4


class ServerUnreachable(TargetUnavailable, db.DatabaseUnavailable):
    """No database server answers at the URL's address (or it is starting / shutting down)."""

    exit_code = 5


class PrivilegesMissing(TargetUnavailable, db.PermissionDenied):
    """Logged in, but the role may not connect to the database or read the migration history."""

    exit_code = 6
