"""PostgreSQL connection helpers shared by the CLI, the Dagster assets and the tests."""

from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote, urlencode, urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

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


POSTGRES_PREFIXES = (
    "postgresql://",
    "postgres://",
    "postgresql+psycopg2://",
    "postgresql+psycopg://",
)


def is_conninfo(url: str) -> bool:
    """A libpq key=value connection string (`host=h dbname=d ...`) rather than a URL."""
    return "://" not in url and "=" in url


def is_postgres(url: str) -> bool:
    """A PostgreSQL URL in any spelling this project accepts, or a key=value string."""
    return url.startswith(POSTGRES_PREFIXES) or is_conninfo(url)


def normalize_url(url: str) -> str:
    """The postgresql:// URL psycopg, ADBC and SQLAlchemy all read, from any accepted spelling:
    SQLAlchemy-style driver suffixes, postgres://, or a libpq key=value string."""
    for prefix in POSTGRES_PREFIXES[1:]:
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    if is_conninfo(url):
        return _conninfo_as_url(url)
    return url


def _conninfo_as_url(conninfo: str) -> str:
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        reason = scrub(str(exc).strip().splitlines()[0], conninfo)
        raise BadDatabaseURL(
            f"cannot read connection string {redact(conninfo)}: {reason}"
        ) from None
    params = {key: str(value) for key, value in params.items()}
    host, port = params.get("host", ""), params.get("port", "")
    netloc = ""
    if "user" in params:
        netloc = quote(params.pop("user"), safe="")
        if "password" in params:
            netloc += ":" + quote(params.pop("password"), safe="")
        netloc += "@"
    # A socket directory or a host list stays a query parameter, as libpq allows.
    if host and not any(c in host for c in "/,:") and "," not in port:
        params.pop("host")
        netloc += host
        if port:
            netloc += ":" + params.pop("port")
    path = "/" + quote(params.pop("dbname"), safe="") if "dbname" in params else ""
    query = urlencode(params, quote_via=quote)
    return f"postgresql://{netloc}{path}" + (f"?{query}" if query else "")


def database_name(url: str) -> str:
    name = unquote(urlsplit(normalize_url(url)).path.lstrip("/"))
    if not name:
        raise BadDatabaseURL(f"database URL names no database: {redact(url)}")
    return name


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(normalize_url(url))
    # Not urlunsplit: it drops the '//' of a URL with no host (postgresql:///db?host=/socket).
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{quote(name, safe='')}{query}"


# --- Redaction ------------------------------------------------------------------------------
# Every message, log line, span attribute and Dagster metadata value that shows a database URL
# passes it through `redact`, which masks the password in each form libpq accepts:
#   postgresql://user:PASSWORD@host/db        (URI userinfo, percent-encoded or not)
#   postgresql://host/db?password=PASSWORD    (URI query: password, sslpassword, any *password*)
#   host=h password=PASSWORD dbname=d         (key=value, values quoted '...' with \' and \\)
# duckdb:/// URLs carry no secret and come back unchanged. `redact_text` does the same for URLs
# and key=value fragments embedded in free text (an exception message), and `scrub` removes the
# password values of known URLs from text a driver produced (libpq quotes URI fragments in its
# own errors, e.g. "invalid percent-encoded token").
MASK = "***"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_QUERY_PARAM = re.compile(r"([?&])([^=&]*)=([^&]*)")
_AFTER_USERINFO = re.compile(r"@(?=[\w.\-\[\]:,%]*(?:[/?]|$))")
_KV_KEYWORD = re.compile(r"\s*([^=\s]+)\s*=\s*")


def _secret_name(name: str) -> bool:
    return "password" in unquote(name).lower()


def redact(url: str) -> str:
    """The URL or conninfo string with every password masked, for messages, logs and metadata."""
    if _SCHEME.match(url):
        return _redact_uri(url)
    if "=" in url:
        return _redact_conninfo(url)
    return url  # a bare database name (or a path) holds no secret


def _redact_uri(url: str) -> str:
    scheme_end = _SCHEME.match(url).end()  # type: ignore[union-attr]
    scheme, rest = url[:scheme_end], url[scheme_end:]
    rest = _QUERY_PARAM.sub(lambda m: f"{m[1]}{m[2]}={MASK}" if _secret_name(m[2]) else m[0], rest)
    at = _userinfo_end(rest)
    if at >= 0 and ":" in rest[:at]:
        rest = rest[:at].split(":", 1)[0] + ":" + MASK + rest[at:]
    return scheme + rest


def _userinfo_end(rest: str) -> int:
    """Index of the '@' closing `user[:password]` in a URI after its `scheme://`, or -1.

    libpq reads userinfo up to the first '@' before the first '/'. A password that is not
    percent-encoded may itself hold '@', '/' or '?': take the last '@' followed by a plausible
    host list (up to '/', '?' or the end), so such a password is masked whole. The price: a
    database name holding '@' is masked with it; over-masking beats leaking."""
    found = -1
    for match in _AFTER_USERINFO.finditer(rest):
        found = match.start()
    return found


def _conninfo_spans(text: str) -> list[tuple[str, int, int]]:
    """(keyword, value start, value end) of each `keyword = value` in a libpq conninfo string,
    read as libpq's conninfo_parse does: values unquoted up to whitespace, or '...' quoted; a
    backslash escapes the next character in both. An unterminated quote runs to the end."""
    spans: list[tuple[str, int, int]] = []
    pos = 0
    while pos < len(text):
        match = _KV_KEYWORD.match(text, pos)
        if not match:
            # Not `keyword=`: skip one word (libpq rejects the string; keep scanning for secrets).
            nxt = re.compile(r"\S*\s*").match(text, pos)
            pos = nxt.end() if nxt and nxt.end() > pos else pos + 1
            continue
        keyword, start = match[1], match.end()
        end, quoted = start, start < len(text) and text[start] == "'"
        if quoted:
            end += 1
        while end < len(text):
            char = text[end]
            if char == "\\":
                end += 2
                continue
            if quoted and char == "'":
                end += 1
                break
            if not quoted and char.isspace():
                break
            end += 1
        end = min(end, len(text))
        spans.append((keyword, start, end))
        pos = end
    return spans


def _redact_conninfo(text: str) -> str:
    out, last = [], 0
    for keyword, start, end in _conninfo_spans(text):
        if _secret_name(keyword):
            out.append(text[last:start] + MASK)
            last = end
    out.append(text[last:])
    return "".join(out)


_EMBEDDED_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_EMBEDDED_SECRET = re.compile(
    r"(\w*password\w*\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)+)", re.IGNORECASE
)


def redact_text(text: str) -> str:
    """Free text (an exception message, a log line) with every `...password...=value` (up to
    whitespace, or quoted) and the password of every URL in it masked."""
    text = _EMBEDDED_SECRET.sub(lambda m: m[1] + MASK, text)
    return _EMBEDDED_URL.sub(lambda m: redact(m[0]), text)


def secrets(url: str) -> list[str]:
    """The password values a URL or conninfo string carries, as written and decoded."""
    found: list[str] = []
    if _SCHEME.match(url):
        rest = url[_SCHEME.match(url).end() :]  # type: ignore[union-attr]
        found += [m[3] for m in _QUERY_PARAM.finditer(rest) if _secret_name(m[2])]
        rest = _QUERY_PARAM.sub(lambda m: "", rest)
        at = _userinfo_end(rest)
        if at >= 0 and ":" in rest[:at]:
            found.append(rest[:at].split(":", 1)[1])
        found += [unquote(value) for value in list(found)]
    elif "=" in url:
        for keyword, start, end in _conninfo_spans(url):
            if _secret_name(keyword):
                raw = url[start:end]
                found.append(raw)
                inner = (
                    raw[1:-1] if raw.startswith("'") and raw.endswith("'") and len(raw) > 1 else raw
                )
                found.append(re.sub(r"\\(.)", r"\1", inner))
    return [value for value in dict.fromkeys(found) if value]


def scrub(text: str, *urls: str) -> str:
    """`redact_text(text)`, and every password value of `urls` removed wherever it appears."""
    for value in sorted({v for url in urls for v in secrets(url)}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return redact_text(text)


def _require_postgres_url(url: str) -> None:
    scheme = url.split("://", 1)[0] if "://" in url else None
    if scheme is not None and scheme not in POSTGRES_SCHEMES:
        raise BadDatabaseURL(
            f"{redact(url)} is not a PostgreSQL URL (expected postgresql://user@host:port/database)"
        )


def connect(url: str, **kwargs) -> psycopg.Connection:
    """Open a connection; a refused one is a typed DatabaseError (lib/db/errors.py): missing
    database, refused login, no server, no privilege, or a URL that is not PostgreSQL's. Its
    message carries no password: libpq quotes the part of a URL it cannot read, which may be
    one, so the error is scrubbed and not chained to the driver's (a traceback would print it)."""
    _require_postgres_url(url)
    try:
        with translated(redact(url)):
            try:
                return psycopg.connect(normalize_url(url), **kwargs)
            except psycopg.ProgrammingError as exc:  # libpq could not parse the URL / conninfo
                raise connection_error(exc, redact(url)) from None
    except DatabaseError as exc:
        raise _scrubbed(exc, url) from None


def _scrubbed(exc: DatabaseError, url: str) -> DatabaseError:
    """The same error with every password of `url` masked in its message."""
    return type(exc)(scrub(str(exc), url))


def connect_adbc(url: str, **kwargs):  # -> adbc_driver_postgresql.dbapi.Connection
    """An ADBC connection (Arrow record batches), refused connections typed as by `connect`."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    _require_postgres_url(url)
    try:
        return adbc.connect(normalize_url(url), **kwargs)
    except adbc_driver_manager.Error as exc:  # libpq's message, prefixed "IO: [libpq] ..."
        raise _scrubbed(connection_error(exc, redact(url)), url) from None


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
