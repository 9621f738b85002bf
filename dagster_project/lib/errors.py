"""The one base class of errors a person can act on.

Raise a subclass of PlatformError for bad input, bad configuration or a state that needs a
person; its message is one clear line naming the problem. The CLI (`platformctl`) prints it
without a traceback and exits 1. Anything else is a bug and keeps its traceback.

`platformctl --debug` (or PLATFORMCTL_DEBUG=1) shows the traceback of a PlatformError too.

The existing bases (MigrationError, IngestError, PartitionError, DatabaseUnavailable, ...)
derive from it and keep their other base (RuntimeError, ValueError) so existing `except`
clauses behave as before.
"""

from __future__ import annotations

from typing import ClassVar


class PlatformError(Exception):
    """A user-facing error: the message says what is wrong and, where it can, what to do."""

    # What `platformctl` exits with (docs/errors.md); the database errors have their own codes.
    exit_code: ClassVar[int] = 1


class InvalidInput(PlatformError, ValueError):
    """A command-line value or an argument a person passed is unusable."""
