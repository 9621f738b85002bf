"""The warehouse loader's one error class (a PlatformError: the CLI prints it as one line)."""

from __future__ import annotations

from dagster_project.lib.errors import PlatformError


class WarehouseError(PlatformError):
    """Bad input (ranges, key, URL) or a warehouse that is not ready for a load."""
