"""`postgres.redact` masks the password in every form libpq accepts (issue 9 §4).

The generated connection strings are checked against libpq itself (psycopg's conninfo_to_dict
calls PQconninfoParse): each one really carries the generated password where libpq reads it, so
the property is about strings an operator can actually put in DATABASE_URL.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from dagster_project.lib.db.postgres import MASK, redact, redact_text, scrub, secrets

# Any printable character, spaces, quotes, backslashes, '@', '/', '?', '&', '=' and non-ASCII
# included; no NUL (libpq strings are C strings).
PASSWORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
)
SECRET_KEYS = st.sampled_from(["password", "sslpassword", "PASSWORD", "my_password_file"])


def _kv_quote(value: str, quoted: bool) -> str:
    if quoted:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "".join("\\" + c if c.isspace() or c in "\\'" else c for c in value)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_redaction_removes_any_password_in_every_form(data) -> None:
    password = data.draw(PASSWORDS, label="password")
    other = data.draw(PASSWORDS.filter(lambda p: p != password), label="other")
    seed = data.draw(st.randoms(use_true_random=False), label="seed")
    # The same URL with two different passwords: same structure, drawn from one random seed.
    url, key = _form_with(seed, password)
    other_url, _ = _form_with(seed, other)

    assert conninfo_to_dict(url)[key] == password  # libpq reads the password from it
    redacted = redact(url)
    # What is shown does not depend on the password at all ...
    assert redacted == redact(other_url)
    # ... is still a connection string libpq reads, with the password masked ...
    assert conninfo_to_dict(redacted)[key] == MASK
    # ... and equals the URL with the password replaced by the mask (nothing else lost).
    assert {k: v for k, v in conninfo_to_dict(redacted).items() if k != key} == {
        k: v for k, v in conninfo_to_dict(url).items() if k != key
    }
    assert password in secrets(url)
    # Embedded in an error message too.
    message = f"cannot reach PostgreSQL at {url}: timeout"
    assert redact_text(message) == redact_text(f"cannot reach PostgreSQL at {other_url}: timeout")


def _form_with(seed, password: str) -> tuple[str, str]:
    """A connection string holding `password` in one of libpq's forms, the rest drawn from
    `seed` without consuming it (so two passwords share everything else)."""
    state = seed.getstate()
    user, host, db = (f"{c}{seed.randrange(10**6)}" for c in "uhd")
    port = seed.randrange(1, 65536)
    form = seed.choice(["userinfo", "query", "conninfo"])
    scheme = seed.choice(["postgresql", "postgres"])
    key = seed.choice(["password", "sslpassword"])
    quoted = seed.random() < 0.5
    space = seed.choice(["", " "])
    seed.setstate(state)
    encoded = quote(password, safe="")
    if form == "userinfo":
        return f"{scheme}://{user}:{encoded}@{host}:{port}/{db}?sslmode=disable", "password"
    if form == "query":
        return (
            f"{scheme}://{user}@{host}:{port}/{db}?sslmode=disable&{key}={encoded}"
            "&application_name=app",
            key,
        )
    return (
        f"host={host} port={port} user={user} {key}{space}={space}{_kv_quote(password, quoted)}"
        f" dbname={db}",
        key,
    )


@settings(max_examples=200)
@given(password=PASSWORDS.filter(lambda p: len(p) >= 6), key=SECRET_KEYS)
def test_any_parameter_named_like_a_password_is_masked(password: str, key: str) -> None:
    encoded = quote(password, safe="")
    # Only passwords that the rest of the string does not spell by itself ("dbname" would be).
    assume(
        not any(
            p in f"postgresql://u@h/db?{key}=*** host=h {key}=*** dbname=db"
            for p in (password, encoded)
        )
    )
    for text in (
        f"postgresql://u@h/db?{key}={encoded}",
        f"host=h {key}={_kv_quote(password, True)} dbname=db",
        f"host=h {key}={_kv_quote(password, False)} dbname=db",
    ):
        redacted = redact(text)
        assert password not in redacted and encoded not in redacted, (text, redacted)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("duckdb:///.data/warehouse.duckdb", "duckdb:///.data/warehouse.duckdb"),
        ("duckdb:////tmp/x/w.duckdb", "duckdb:////tmp/x/w.duckdb"),
        (
            "postgresql://postgres@127.0.0.1:5432/platform",
            "postgresql://postgres@127.0.0.1:5432/platform",
        ),
        ("platform", "platform"),
        ("postgresql://u:s3cr3t@h/db", "postgresql://u:***@h/db"),
        ("postgresql+psycopg://u:s3cr3t@h/db", "postgresql+psycopg://u:***@h/db"),
        # Not percent-encoded (libpq itself would misread these): still masked whole.
        ("postgresql://u:p@ss/w?rd@h/db", "postgresql://u:***@h/db"),
        ("postgresql://h/db?pass%77ord=s3cr3t", "postgresql://h/db?pass%77ord=***"),
        ("host=h password='it\\'s' dbname=d", "host=h password=*** dbname=d"),
        ("host=h password='unterminated dbname=d", "host=h password=***"),
    ],
)
def test_redact_examples(url: str, expected: str) -> None:
    assert redact(url) == expected


def test_scrub_removes_password_fragments_libpq_quotes_in_its_own_errors() -> None:
    url = "postgresql://u:pa%zzS3cret@h/db"
    with pytest.raises(Exception) as failure:  # noqa: PT011 - libpq's ProgrammingError
        conninfo_to_dict(url)
    assert "S3cret" in str(failure.value)  # libpq quotes the token: the reason scrub exists
    assert "S3cret" not in scrub(str(failure.value), url)
