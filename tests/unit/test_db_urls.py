"""key=value connection strings are accepted wherever a PostgreSQL URL is (issue 9 §4): the URL
`normalize_url` makes of one means exactly what the string means to libpq."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from dagster_project.lib.db import postgres, urls

VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
HOSTS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9.-]{0,15}", fullmatch=True),
    st.just("/var/run/postgresql"),
    st.just("h1,h2"),
)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@given(
    host=HOSTS,
    port=st.one_of(st.none(), st.integers(1, 65535).map(str)),
    user=st.one_of(st.none(), VALUES),
    password=st.one_of(st.none(), VALUES),
    dbname=VALUES,
    application_name=st.one_of(st.none(), VALUES),
)
def test_a_key_value_string_becomes_the_same_url(
    host, port, user, password, dbname, application_name
):
    if host == "h1,h2" and port:
        port = f"{port},{port}"
    params = {"host": host, "port": port, "user": user, "password": password, "dbname": dbname,
              "application_name": application_name}  # fmt: skip
    conninfo = " ".join(f"{k}={_quoted(v)}" for k, v in params.items() if v is not None)
    url = postgres.normalize_url(conninfo)
    assert url.startswith("postgresql://")
    assert conninfo_to_dict(url) == conninfo_to_dict(conninfo)
    assert postgres.database_name(conninfo) == dbname
    other = postgres.with_database(conninfo, "other db")
    assert conninfo_to_dict(other) == {**conninfo_to_dict(conninfo), "dbname": "other db"}


def test_key_value_strings_are_postgres_everywhere() -> None:
    conninfo = "host=127.0.0.1 user=u password=s3cr3t dbname=wh"
    assert urls.engine(conninfo) == "postgres"
    env = urls.dbt_env(conninfo)
    assert (env["DBT_PG_HOST"], env["DBT_PG_USER"], env["DBT_PG_PASSWORD"], env["DBT_PG_DBNAME"]) == (
        "127.0.0.1", "u", "s3cr3t", "wh",
    )  # fmt: skip


def test_an_unreadable_key_value_string_is_one_clear_error_without_its_password() -> None:
    with pytest.raises(postgres.BadDatabaseURL) as failure:
        postgres.normalize_url("host=h password='s3cr3t dbname=x")
    assert "s3cr3t" not in str(failure.value) and "unterminated quoted string" in str(failure.value)
