"""The one base class of errors a person can act on.

Raise a subclass of PlatformError for bad input, bad configuration or a state that needs a
person; its message is one clear line naming the problem. The CLI (`platformctl`) prints it
without a traceback and exits 1. Anything else is a bug and keeps its traceback.

The existing bases (MigrationError, IngestError, PartitionError, DatabaseUnavailable, ...)
derive from it and keep their other base (RuntimeError, ValueError) so existing `except`
clauses behave as before.
"""

from __future__ import annotations


class PlatformError(Exception):
    """A user-facing error: the message says what is wrong and, where it can, what to do."""
