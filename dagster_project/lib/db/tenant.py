"""Run database work as one tenant, so row-level security filters every statement to it.

    with tenant_transaction(conn, org_id):
        conn.execute("SELECT ... FROM app.api_keys")   # only org_id's rows

The operational schema's policies read the tenant from the `app.current_org_id` setting (see
migrations/operational/202611220000_roles_and_schema.up.sql). This sets it with
`set_config(..., is_local => true)`, i.e. SET LOCAL: the value ends with the transaction, on
commit and on rollback alike, so a pooled connection never carries a tenant to its next user.
With no tenant set, tenant tables show no rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import pq

TENANT_SETTING = "app.current_org_id"


@contextmanager
def tenant_transaction(
    conn: psycopg.Connection, org_id: uuid.UUID | str
) -> Iterator[psycopg.Connection]:
    """A transaction on `conn` as tenant `org_id`: committed on success, rolled back on error.

    The connection must be idle (not inside a transaction): inside one, psycopg would open a
    savepoint, and a SET LOCAL made in a savepoint outlives it until the outer transaction ends,
    so the tenant would leak into whatever else that transaction runs.
    """
    tenant = str(
        uuid.UUID(str(org_id))
    )  # refuse anything that is not a uuid before the server sees it
    status = conn.info.transaction_status
    if status != pq.TransactionStatus.IDLE:
        raise RuntimeError(
            f"tenant_transaction needs an idle connection, this one is {status.name}: "
            "commit or roll back first"
        )
    with conn.transaction():
        conn.execute("SELECT set_config(%s, %s, true)", (TENANT_SETTING, tenant))
        yield conn
