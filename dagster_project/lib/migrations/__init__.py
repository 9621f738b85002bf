"""The migration engine: plain Python shared by `platformctl migrate`, the Dagster assets and tests.

Layout: `source` reads migration files, `drivers` talk to one database kind through a narrow
interface, `runner` applies the rules (lock, checksums, dirty state, guardrails, hooks, audit),
`lint` checks files before they reach a database, `telemetry` emits spans and JSON logs.
"""

from dagster_project.lib.migrations.errors import MigrationError

__all__ = ["MigrationError"]
