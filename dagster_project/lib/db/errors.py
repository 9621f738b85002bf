"""What went wrong talking to PostgreSQL, as typed errors a person can act on.

The one place that turns driver errors into PlatformErrors: `postgres.connect` runs the
connection attempt inside `translated(...)`, and `platformctl` runs every command inside it, so
a privilege refused in the middle of a command is one line too. Each error carries the exit code
`platformctl` ends with (docs/errors.md):

    3  DatabaseMissing       the server answers; the database does not exist
    4  AuthenticationFailed  the server refused the login (unknown role, password, pg_hba.conf)
    5  DatabaseUnavailable   no server answers (refused, unreachable host, timeout, shut down)
    6  PermissionDenied      logged in, but the role lacks a privilege

(the codes `platformctl migrate status` / `validate` use for the same failures, 2 being theirs
for an unhealthy history: docs/runbooks/migrations.md "Health probe")
    1  BadDatabaseURL        not a PostgreSQL URL, or one libpq cannot parse

libpq reports connection failures without a SQLSTATE (the server's FATAL arrives before any
result), so those are told apart by the server's message (English `lc_messages`, the default);
an unrecognised one is DatabaseUnavailable. Errors with a SQLSTATE are matched by class.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from dagster_project.lib.errors import PlatformError


class DatabaseError(PlatformError):
    """PostgreSQL could not be used as configured; the message names the URL and the cause."""


class DatabaseUnavailable(DatabaseError, RuntimeError):
    """No PostgreSQL server answers at the configured URL."""

    exit_code = 5


class DatabaseMissing(DatabaseError):
    """The server answers, but the database the URL names does not exist."""

    exit_code = 3


class AuthenticationFailed(DatabaseError):
    """The server refused the login: unknown role, wrong password, no pg_hba.conf entry."""

    exit_code = 4


class PermissionDenied(DatabaseError):
    """Logged in, but the role may not do what the command needs."""

    exit_code = 6


class BadDatabaseURL(DatabaseError, ValueError):
    """Not a PostgreSQL URL, or one libpq cannot parse."""


# Server messages of a refused connection (src/backend/utils/init/postinit.c, libpq/auth.c).
_MISSING = re.compile(r'database "[^"]*" does not exist')
_AUTH = re.compile(
    r'role "[^"]*" does not exist|authentication failed|no pg_hba\.conf entry'
    r"|no password supplied|is not permitted to log in"
)
_UNPARSABLE = re.compile(
    r'missing "=" after|invalid (?:URI|connection option|percent-encoded|integer value)'
)
_PERMISSION = re.compile(r"permission denied for database|must be superuser|must have CONNECT")
_HINTS = {
    DatabaseUnavailable: "start one with `platformctl dev postgres up` or fix the host/port in "
    "DATABASE_URL / --database-url",
    DatabaseMissing: "create it with `platformctl migrate up` (creates and migrates it) or fix "
    "the database name in the URL",
    AuthenticationFailed: "check the role name and password in the URL (and pg_hba.conf)",
    PermissionDenied: "connect as a role that holds the privilege (e.g. the schema owner or a "
    "superuser)",
}


def first_line(exc: BaseException) -> str:
    """The driver's message without libpq's 'connection failed:' preamble and extra lines."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else repr(exc)
    # 'connection failed: connection to server at "h", port 5432 failed: FATAL:  <reason>'
    if "FATAL:" in line:
        line = line.split("FATAL:", 1)[1].strip()
    line = line.removeprefix("connection failed: ").removeprefix("IO: [libpq] Failed to connect: ")
    return re.sub(r"\s+", " ", line)


def connection_error(exc: Exception, where: str) -> DatabaseError:
    """The typed error for a failed connection attempt to `where` (a redacted URL), from
    psycopg's or ADBC's error (both carry libpq's message)."""
    reason = first_line(exc)
    if isinstance(exc, psycopg.ProgrammingError) or _UNPARSABLE.search(reason):
        return BadDatabaseURL(f"invalid database URL {where}: {reason}")
    kind: type[DatabaseError] = DatabaseUnavailable
    if _MISSING.search(reason):
        kind = DatabaseMissing
    elif _AUTH.search(reason):
        kind = AuthenticationFailed
    elif _PERMISSION.search(reason):
        kind = PermissionDenied
    verb = "cannot reach PostgreSQL at" if kind is DatabaseUnavailable else "cannot connect to"
    return kind(f"{verb} {where}: {reason}; {_HINTS[kind]}")


def _connection_level(exc: psycopg.OperationalError) -> bool:
    """Lost connection or server shutdown (no SQLSTATE, class 08, class 57P), not a query's
    own failure such as a lock timeout or a serialization failure."""
    state = exc.sqlstate
    return state is None or state.startswith(("08", "57P"))


@contextmanager
def translated(where: str | None = None) -> Iterator[None]:
    """Turn the driver's errors a person can act on into DatabaseErrors: a failed or lost
    connection and a refused privilege. Everything else (a syntax error is a bug) passes."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        on = f" on {where}" if where else ""
        reason = exc.diag.message_primary or first_line(exc)
        raise PermissionDenied(f"{reason}{on}; {_HINTS[PermissionDenied]}") from exc
    except psycopg.OperationalError as exc:
        if not _connection_level(exc):
            raise
        if where is None:  # mid-command: the connection itself was made, then lost
            raise DatabaseUnavailable(
                f"lost the connection to PostgreSQL: {first_line(exc)}"
            ) from exc
        raise connection_error(exc, where) from exc
