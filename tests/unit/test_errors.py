"""Every user-facing error base derives from PlatformError and keeps its old base, and the CLI
prints a PlatformError as one line with exit 1."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from dagster_project.cli import user_errors
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
}


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
    def other() -> None:  # a second command keeps typer from collapsing to the root
        pass

    result = CliRunner().invoke(app, ["bug"])
    assert result.exit_code != 0 and isinstance(result.exception, KeyError)
