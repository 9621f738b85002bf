"""Data platform for a multi-tenant AI/LLM SaaS.

`dagster job execute -m dagster_project` finds the Definitions here, but the CLI and
library code import this package too, and importing Dagster costs about a second.
So the Definitions are loaded lazily (PEP 562): Dagster's module scan calls dir() and
getattr(), which reach them; `platformctl` never pays for them.
"""

from typing import Any

# Not named `defs`: that is the defs/ subpackage, which would shadow it once imported.
LAZY_NAME = "location_defs"
__all__ = [LAZY_NAME]


def __getattr__(name: str) -> Any:
    if name == LAZY_NAME:
        from dagster_project.definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), LAZY_NAME])
