"""Shared fixtures: a real PostgreSQL server, one throwaway database per test, no mocks.

The server is the one $DATABASE_URL names (default: lib/db/postgres.DEFAULT_DATABASE_URL);
the database part of that URL is never touched. Every test database is created here and
named `test_<pid>_<8 hex>`: the pid keeps pytest-xdist workers apart, the random part keeps
tests apart, and the prefix makes leftovers of a killed run easy to find and drop:

    SELECT datname FROM pg_database WHERE datname ~ '^test_[0-9]+_[0-9a-f]{8}$';
"""

from __future__ import annotations

import dataclasses
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from psycopg import sql

from dagster_project.lib import paths
from dagster_project.lib.db import postgres

TEST_DB_PREFIX = "test_"
TEST_DB_PATTERN = re.compile(rf"^{TEST_DB_PREFIX}[0-9]+_[0-9a-f]{{8}}$")

NO_SERVER_MESSAGE = """\
no PostgreSQL server answers at {url}; the tests need one.
Start one, then run the tests again:
  - a throwaway cluster in .data/postgres:  .venv/bin/platformctl dev postgres up
    (then export the DATABASE_URL it prints)
  - or the system cluster (Debian, as root):
    pg_ctlcluster --skip-systemctl-redirect <version> main start
  - or point DATABASE_URL at a server you may create and drop databases on."""


def new_test_db_name() -> str:
    return f"{TEST_DB_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root (lib/paths.PROJECT_ROOT), whatever the current directory."""
    return paths.PROJECT_ROOT


@pytest.fixture(scope="session")
def pg_server_url(request: pytest.FixtureRequest) -> str:
    """The server's URL from $DATABASE_URL or the default. Stops the session when none answers.

    Tests must not use the database this URL names; they get their own via `fresh_db_url`
    or `make_db_url`.
    """
    url = postgres.database_url()
    if not postgres.server_answers(url):
        message = NO_SERVER_MESSAGE.format(url=postgres.redact(url))
        if os.environ.get("PYTEST_XDIST_WORKER"):
            # pytest.exit in an xdist worker crashes it and the message is lost. Instead the
            # worker stops after this test, which errors with the message.
            request.session.shouldstop = "no PostgreSQL server answers"
            pytest.fail(message, pytrace=False)
        pytest.exit(message, returncode=1)
    return url


@pytest.fixture
def make_db_url(pg_server_url: str) -> Iterator[Callable[[], str]]:
    """A factory: each call creates a new, empty database and returns its URL.

    Every database it made is dropped WITH (FORCE) after the test, even when it failed.
    """
    created: list[str] = []

    def make() -> str:
        url = postgres.with_database(pg_server_url, new_test_db_name())
        if not postgres.ensure_database(url):
            raise RuntimeError(f"test database {postgres.database_name(url)} already existed")
        created.append(url)
        return url

    yield make

    errors: list[str] = []
    for url in reversed(created):
        try:
            postgres.drop_database(url)
        except Exception as exc:  # keep dropping the others; report all at the end
            errors.append(f"{postgres.database_name(url)}: {exc}")
    if errors:
        pytest.fail("could not drop test databases: " + "; ".join(errors), pytrace=False)


@pytest.fixture
def fresh_db_url(make_db_url: Callable[[], str]) -> str:
    """The URL of a new, empty database that only this test uses; dropped afterwards."""
    return make_db_url()


# -- the operational schema ---------------------------------------------------------------------
# Migrating takes about a second, cloning a migrated database a fraction of that: the session
# migrates one template database, and each test gets a clone (CREATE DATABASE ... TEMPLATE).


def url_for_role(url: str, role: str) -> str:
    """`url`'s server and database, logged in as `role` with no password (trust auth in tests;
    the service roles never have a password in the repository)."""
    parts = urlsplit(postgres.normalize_url(url))
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{role}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class OperationalDatabases:
    """Clones of the migrated template, each a `test_<pid>_<hex8>` database."""

    def __init__(self, template_url: str) -> None:
        self.template_url = template_url
        self.created: list[str] = []

    def create(self) -> str:
        url = postgres.with_database(self.template_url, new_test_db_name())
        with postgres.connect(postgres.with_database(url, "postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(postgres.database_name(url)),
                    sql.Identifier(postgres.database_name(self.template_url)),
                )
            )
        self.created.append(url)
        return url

    def drop(self, url: str) -> None:
        postgres.drop_database(url)
        if url in self.created:
            self.created.remove(url)


@pytest.fixture(scope="session")
def operational_template_url(pg_server_url: str) -> Iterator[str]:
    """A database with every operational migration applied, made once per session (per xdist
    worker) and dropped at its end. Only ever cloned: CREATE DATABASE ... TEMPLATE fails while
    anyone is connected to the template, so connections to it are switched off once migrated."""
    from dagster_project.lib.migrations.config import load_config
    from dagster_project.lib.migrations.runner import Runner

    url = postgres.with_database(pg_server_url, new_test_db_name())
    postgres.ensure_database(url)
    try:
        config = load_config()
        # Telemetry is configured once per process: keep these runs from turning spans on.
        config = dataclasses.replace(config, telemetry_exporter="none")
        Runner("operational", config=config, url=url, actor="test-template").up()
        with postgres.connect(postgres.with_database(url, "postgres"), autocommit=True) as conn:
            name = postgres.database_name(url)
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
        yield url
    finally:
        postgres.drop_database(url)


@pytest.fixture(scope="session")
def operational_databases(operational_template_url: str) -> Iterator[OperationalDatabases]:
    """Make clones of the migrated template (e.g. one per module); any left are dropped at the end."""
    databases = OperationalDatabases(operational_template_url)
    yield databases
    for url in list(databases.created):
        databases.drop(url)


@pytest.fixture
def operational_db_url(operational_databases: OperationalDatabases) -> Iterator[str]:
    """A fresh, fully migrated operational database for this test only (superuser URL); dropped after."""
    url = operational_databases.create()
    yield url
    operational_databases.drop(url)


@pytest.fixture(scope="session")
def role_url() -> Callable[[str, str], str]:
    """role_url(db_url, "platform_app") -> the same database, connected as that role."""
    return url_for_role
