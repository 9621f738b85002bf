"""The migration engine: plain Python shared by `platformctl migrate`, the Dagster assets and tests.

Layout: `source` reads migration files, `drivers` talk to one database kind through a narrow
interface, `runner` applies the rules (lock, checksums, dirty state, guardrails, hooks, audit),
`hooks` holds the platform's audit hook (the operational audit_log), `lint` checks files before
they reach a database, `telemetry` emits spans and JSON logs. Every driver passes one
conformance suite (tests/integration/test_migration_driver_conformance.py).
"""

from dagster_project.lib.migrations.errors import MigrationError

__all__ = ["MigrationError"]
