"""The platform's hooks on the migration engine: what the application adds to every audit record.

The drivers only speak their dialect and write the engine's own audit table
(platform_meta.migration_audit). The platform also keeps an append-only operational audit log
(public.audit_log, migration 202611220200_audit_log); recording migrations there is the
application's business, so it is a hook the runner calls with each record, in the same
transaction as the engine's own audit row.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from dagster_project.lib.migrations.drivers.base import AuditRecord, Driver

AuditHook = Callable[[Driver, AuditRecord], None]

_RECORD_FUNCTION = "public.record_migration_audit(text,text,text,text,jsonb)"


def record_in_operational_audit_log(driver: Driver, record: AuditRecord) -> None:
    """Also into public.audit_log, once a migration has created record_migration_audit()."""
    if driver.kind != "postgres":
        return
    if driver.execute("SELECT to_regprocedure(%s)", (_RECORD_FUNCTION,))[0][0] is None:
        return
    driver.execute(
        "SELECT public.record_migration_audit(%s, %s, %s, %s, %s::jsonb)",
        (
            record.actor,
            record.action,
            record.target,
            record.version,
            json.dumps(record.metadata, default=str),
        ),
    )


def platform_audit_hooks() -> list[AuditHook]:
    """The hooks every Runner of this platform calls unless given others."""
    return [record_in_operational_audit_log]
