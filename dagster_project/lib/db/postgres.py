"""PostgreSQL connection helpers shared by the CLI, the Dagster assets and the tests."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from dagster_project.lib.db.errors import (  # noqa: F401  (re-exported: callers catch them here)
    AuthenticationFailed,
    BadDatabaseURL,
    DatabaseError,
    DatabaseMissing,
    DatabaseUnavailable,
    PermissionDenied,
    connection_error,
    translated,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/platform"
# The read-only role that sees every tenant (migration 202612041020_warehouse_loader_role): the
# warehouse load, the reconciliation and the late-event sensor read the operational side as it.
LOADER_ROLE = "platform_loader"


POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg")


def database_url(explicit: str | None = None) -> str:
    """The operational database URL: explicit value, then $DATABASE_URL, then the default."""
    return explicit or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def normalize_url(url: str) -> str:
    """psycopg speaks libpq URLs; accept SQLAlchemy-style driver suffixes too."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def database_name(url: str) -> str:
    name = urlsplit(normalize_url(url)).path.lstrip("/")
    if not name:
        raise BadDatabaseURL(f"database URL names no database: {redact(url)}")
    return name


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(normalize_url(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def redact(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def _require_postgres_url(url: str) -> None:
    scheme = url.split("://", 1)[0] if "://" in url else None
    if scheme is not None and scheme not in POSTGRES_SCHEMES:
        raise BadDatabaseURL(
            f"{redact(url)} is not a PostgreSQL URL (expected postgresql://user@host:port/database)"
        )


def connect(url: str, **kwargs) -> psycopg.Connection:
    """Open a connection; a refused one is a typed DatabaseError (lib/db/errors.py): missing
    database, refused login, no server, no privilege, or a URL that is not PostgreSQL's."""
    _require_postgres_url(url)
    with translated(redact(url)):
        try:
            return psycopg.connect(normalize_url(url), **kwargs)
        except psycopg.ProgrammingError as exc:  # libpq could not parse the URL / conninfo
            raise connection_error(exc, redact(url)) from exc


def connect_adbc(url: str, **kwargs):  # -> adbc_driver_postgresql.dbapi.Connection
    """An ADBC connection (Arrow record batches), refused connections typed as by `connect`."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    _require_postgres_url(url)
    try:
        return adbc.connect(normalize_url(url), **kwargs)
    except adbc_driver_manager.Error as exc:  # libpq's message, prefixed "IO: [libpq] ..."
        raise connection_error(exc, redact(url)) from exc


def ensure_database(url: str) -> bool:
    """Create the database named in the URL when it does not exist. True when created."""
    name = database_name(url)
    with connect(with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False  # created concurrently by another process: fine
        return True


def drop_database(url: str) -> None:
    """Drop the database named in the URL, disconnecting its sessions first."""
    name = database_name(url)
    with connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_answers(url: str, timeout_seconds: int = 3) -> bool:
    try:
        with connect(with_database(url, "postgres"), connect_timeout=timeout_seconds):
            return True
    except DatabaseError:  # refused login, missing "postgres" database, bad URL: not usable
        return False
