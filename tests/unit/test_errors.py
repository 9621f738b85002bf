"""Every user-facing error base derives from PlatformError and keeps its old base, and the CLI
prints a PlatformError as one line with exit 1."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import typer
from typer.testing import CliRunner

import dagster_project.lib
from dagster_project.cli import user_errors
from dagster_project.lib.config import ConfigFileError
from dagster_project.lib.db.errors import BadDatabaseURL, DatabaseError
from dagster_project.lib.db.postgres import DatabaseUnavailable
from dagster_project.lib.devdb.cluster import DevClusterError
from dagster_project.lib.docs.classification import ClassificationError
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.ingest.config import IngestError
from dagster_project.lib.ingest.retention import RetentionError
from dagster_project.lib.ingest.schema import SchemaError
from dagster_project.lib.migrations.errors import ConfigError, MigrationError
from dagster_project.lib.partitions.config import PartitionError
from dagster_project.lib.seeds.core import SeedError

OLD_BASES = {
    MigrationError: Exception,
    IngestError: RuntimeError,
    PartitionError: RuntimeError,
    DatabaseUnavailable: RuntimeError,
    DevClusterError: RuntimeError,
    SeedError: ValueError,
    RetentionError: ValueError,
    SchemaError: ValueError,
    ClassificationError: ValueError,
    ConfigFileError: ValueError,
    BadDatabaseURL: ValueError,
}
# Exceptions in lib/ that are not user-facing: caught inside lib/ and turned into a PlatformError,
# or raised to a service, not to a person at the command line.
INTERNAL = {
    "dagster_project.lib.migrations.drivers.base.StatementFailed",  # runner -> MigrationError
    "dagster_project.lib.keys.apikeys.InvalidApiKey",  # a service's key check (401), not the CLI
    "dagster_project.lib.config._Problem",  # becomes the caller's PlatformError
}


def _lib_exceptions() -> dict[str, type[BaseException]]:
    found = {}
    for info in pkgutil.walk_packages(dagster_project.lib.__path__, "dagster_project.lib."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_error_lib_defines_is_a_platform_error_or_declared_internal() -> None:
    found = _lib_exceptions()
    assert len(found) > 20  # the walk found the modules
    strays = sorted(n for n, e in found.items() if not issubclass(e, PlatformError))
    assert strays == sorted(INTERNAL)


@pytest.mark.parametrize("error", list(OLD_BASES), ids=lambda e: e.__name__)
def test_user_facing_bases_derive_from_platform_error(error: type[Exception]) -> None:
    assert issubclass(error, PlatformError)
    assert issubclass(error, OLD_BASES[error])  # existing `except` clauses still match


def test_cli_prints_a_platform_error_as_one_line_and_exits_1() -> None:
    class Custom(PlatformError):
        pass

    app = typer.Typer()

    @app.command()
    @user_errors
    def fail() -> None:
        raise Custom("the thing is wrong")

    @app.command()
    @user_errors
    def config() -> None:
        raise ConfigError("configs/migrate.yaml: bad")

    runner = CliRunner()
    for command, text in (("fail", "the thing is wrong"), ("config", "configs/migrate.yaml: bad")):
        result = runner.invoke(app, [command])
        assert result.exit_code == 1
        assert result.output.strip() == f"error: {text}"  # no traceback


def test_a_bug_is_not_swallowed() -> None:
    app = typer.Typer()

    @app.command()
    @user_errors
    def bug() -> None:
        raise KeyError("oops")

    @app.command()
    @user_errors
    def value() -> None:  # a ValueError from a bug is not a user error (it was, before issue 9)
        int("not a number")

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing to the root
        pass

    result = CliRunner().invoke(app, ["bug"])
    assert result.exit_code != 0 and isinstance(result.exception, KeyError)
    result = CliRunner().invoke(app, ["value"])
    assert result.exit_code != 0 and isinstance(result.exception, ValueError)


def test_database_errors_have_their_own_exit_codes() -> None:
    from dagster_project.lib.db import errors

    codes = {
        e.exit_code
        for e in (errors.DatabaseUnavailable, errors.DatabaseMissing, errors.AuthenticationFailed)
    } | {errors.PermissionDenied.exit_code}
    assert len(codes) == 4 and 1 not in codes and 2 not in codes  # 2: "unhealthy" in status
    assert issubclass(errors.DatabaseMissing, DatabaseError)
