"""A throwaway PostgreSQL cluster under `.data/postgres`, for machines with no server.

Layout of the base directory (`.data/postgres`, or $PLATFORM_DEVDB_DIR, or `base_dir=`):

    data/               PGDATA, made by initdb
    data/platformctl.conf   port, listen address, socket dir; rewritten on every `up`
    run/                unix socket directory (never /var/run)
    postgres.log        server log

Trust auth, listening on 127.0.0.1 only, fsync off: for development and tests, never for
data you care about. initdb and pg_ctl refuse to run as root, so as root they run as the
`postgres` OS user, who then owns the base directory; otherwise they run as the invoking user.

Plain Python (no Dagster import): `platformctl dev postgres` and the tests call it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from dagster_project.lib.db import postgres
from dagster_project.lib.errors import PlatformError
from dagster_project.lib.paths import DATA_DIR

SUPERUSER = "postgres"  # the database role initdb creates
ROOT_RUNS_AS = "postgres"  # the OS user initdb/pg_ctl run as when we are root
HOST = "127.0.0.1"
DEFAULT_PORT = 5432
FALLBACK_PORTS = range(5433, 5533)
DATABASE = postgres.database_name(postgres.DEFAULT_DATABASE_URL)
CONF_NAME = "platformctl.conf"
BASE_DIR_ENV = "PLATFORM_DEVDB_DIR"
BINDIR_ENV = "PLATFORM_PG_BINDIR"
# Unix socket paths are limited to ~107 bytes; beyond that the cluster is TCP-only.
_MAX_SOCKET_PATH = 100

INSTALL_HINT = (
    "no PostgreSQL server binaries (initdb, pg_ctl) found: looked at `pg_config --bindir`, "
    "/usr/lib/postgresql/*/bin and PATH. Install them: Debian/Ubuntu `apt-get install "
    "postgresql`, macOS `brew install postgresql@15` (then put its bin/ on PATH), or point "
    f"${BINDIR_ENV} at the directory holding initdb and pg_ctl."
)


class DevClusterError(PlatformError, RuntimeError):
    """The throwaway cluster cannot be created, started or stopped; the message says why."""


@dataclass(frozen=True)
class ClusterStatus:
    base_dir: Path
    data_dir: Path
    log_file: Path
    initialized: bool
    running: bool
    port: int | None  # the running port, else the one the next `up` prefers
    pid: int | None
    configured_url: str  # $DATABASE_URL or the project default
    configured_url_answers: bool
    note: str = ""  # what `up`/`down` did: "started", "already running", ...

    @property
    def database_url(self) -> str | None:
        """The URL of this cluster's `platform` database: the DATABASE_URL to export."""
        if self.port is None:
            return None
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{DATABASE}"


@dataclass(frozen=True)
class _Paths:
    base: Path
    data: Path
    run: Path
    log: Path
    conf: Path
    pidfile: Path
    version: Path


def default_base_dir() -> Path:
    return Path(os.environ.get(BASE_DIR_ENV) or DATA_DIR / "postgres")


def _paths(base_dir: Path | str | None) -> _Paths:
    base = Path(base_dir) if base_dir is not None else default_base_dir()
    base = base.expanduser().resolve()
    data = base / "data"
    return _Paths(
        base=base,
        data=data,
        run=base / "run",
        log=base / "postgres.log",
        conf=data / CONF_NAME,
        pidfile=data / "postmaster.pid",
        version=data / "PG_VERSION",
    )


# --- binaries -------------------------------------------------------------------------------


def _has_server_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl"))


def _version_key(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); /usr/lib/postgresql/9.6/bin -> (9, 6)
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def _candidate_bindirs() -> list[Path]:
    candidates: list[Path] = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(Path(os.environ[BINDIR_ENV]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    for pattern in (
        "/usr/lib/postgresql/*/bin",  # Debian/Ubuntu
        "/usr/pgsql-*/bin",  # RHEL (PGDG)
        "/opt/homebrew/opt/postgresql@*/bin",  # Homebrew keg-only, Apple silicon
        "/usr/local/opt/postgresql@*/bin",  # Homebrew keg-only, Intel
    ):
        found = [Path(p) for p in glob.glob(pattern)]
        candidates.extend(sorted(found, key=_version_key, reverse=True))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    return candidates


def _server_major(bindir: Path) -> str | None:
    """'15' for a PostgreSQL 15 pg_ctl, from `pg_ctl --version`."""
    try:
        out = subprocess.run(
            [str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s*(\d+)(?:\.(\d+))?", out)
    if not match:
        return None
    major = int(match.group(1))
    # Before 10 the major version had two parts (9.6).
    return f"{major}.{match.group(2)}" if major < 10 and match.group(2) else str(major)


def find_bindir(major: str | None = None) -> Path:
    """The directory holding initdb and pg_ctl; `major` ('15') demands that version."""
    seen: set[Path] = set()
    found: list[Path] = []
    for candidate in _candidate_bindirs():
        if candidate in seen or not _has_server_binaries(candidate):
            continue
        seen.add(candidate)
        found.append(candidate)
        if major is None or _server_major(candidate) == major:
            return candidate
    if found and major is not None:
        versions = ", ".join(f"{b} ({_server_major(b) or '?'})" for b in found)
        raise DevClusterError(
            f"the dev cluster's data directory was made by PostgreSQL {major}, but the server "
            f"binaries found are another version: {versions}. Install PostgreSQL {major} "
            "(Debian `apt-get install postgresql-" + major + "`, macOS `brew install "
            f"postgresql@{major}`) or delete the throwaway data directory to start afresh."
        )
    raise DevClusterError(INSTALL_HINT)


# --- running initdb / pg_ctl as the right user -------------------------------------------------


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _os_user() -> str | None:
    """The OS user to run initdb/pg_ctl as: `postgres` when we are root, else ourselves."""
    if not _is_root():
        return None
    import pwd

    try:
        pwd.getpwnam(ROOT_RUNS_AS)
    except KeyError:
        raise DevClusterError(
            f"running as root, and initdb/pg_ctl refuse to run as root; there is no "
            f"`{ROOT_RUNS_AS}` OS user to run them as. Create one (`useradd --system "
            f"--user-group --home-dir /var/lib/postgresql {ROOT_RUNS_AS}`; installing the "
            "postgresql package does this) or run platformctl as an unprivileged user."
        ) from None
    return ROOT_RUNS_AS


def _as_user(argv: list[str], user: str | None) -> list[str]:
    if user is None:
        return argv
    runuser = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
    )
    if runuser:
        return [runuser, "-u", user, "--", *argv]
    return ["su", user, "-s", "/bin/sh", "-c", shlex.join(argv)]


def _run(
    argv: list[str], user: str | None, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            _as_user(argv, user),
            cwd=cwd,  # the postgres user must be able to enter it
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise DevClusterError(f"`{shlex.join(argv)}` did not finish in {timeout:.0f} s") from exc


def _chown(path: Path, user: str | None) -> None:
    if user is None:
        return
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _failure(what: str, result: subprocess.CompletedProcess[str], log: Path | None = None) -> str:
    output = (result.stderr.strip() or result.stdout.strip()).splitlines()[-10:]
    message = f"{what} failed (exit {result.returncode})"
    if output:
        message += ": " + " | ".join(output)
    if log is not None and (tail := _tail(log)):
        message += f"\nlast lines of {log}:\n{tail}"
    return message


# --- ports -------------------------------------------------------------------------------------


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something listens on host:port or the port cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like the postmaster: a port held only by TIME_WAIT sockets is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def choose_port() -> int:
    """5432 when free, else the first free port from 5433 up."""
    for port in (DEFAULT_PORT, *FALLBACK_PORTS):
        if not port_in_use(port):
            return port
    raise DevClusterError(
        f"no free port among {DEFAULT_PORT}..{FALLBACK_PORTS[-1]} on {HOST}; pass --port"
    )


# --- configuration and state -------------------------------------------------------------------


def _configured_port(paths: _Paths) -> int | None:
    try:
        text = paths.conf.read_text()
    except OSError:
        return None
    match = re.search(r"^port\s*=\s*(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _write_conf(paths: _Paths, port: int, user: str | None) -> None:
    socket_file = paths.run / f".s.PGSQL.{port}"
    sockets = str(paths.run) if len(str(socket_file)) <= _MAX_SOCKET_PATH else ""
    paths.conf.write_text(
        "# Written by `platformctl dev postgres up` (lib/devdb/cluster.py) on every start.\n"
        f"listen_addresses = '{HOST}'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{sockets}'\n"
        "# A throwaway cluster: durability traded for speed (tests create many databases).\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n"
    )
    _chown(paths.conf, user)


def _include_conf(paths: _Paths) -> None:
    main_conf = paths.data / "postgresql.conf"
    text = main_conf.read_text()
    line = f"include_if_exists = '{CONF_NAME}'"
    if line not in text:
        main_conf.write_text(text.rstrip("\n") + f"\n\n# platformctl dev postgres\n{line}\n")


def _initdb_locale() -> str:
    """C.UTF-8 where the OS has it (as Debian's packaged clusters do), else C."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            names = subprocess.run(
                ["locale", "-a"], capture_output=True, text=True, timeout=10
            ).stdout.lower()
            if {"c.utf8", "c.utf-8"} & set(names.split()):
                return "C.UTF-8"
    return "C"


def _running_pid(paths: _Paths) -> tuple[int, int] | None:
    """(pid, port) of a live postmaster for this data directory, else None."""
    try:
        lines = paths.pidfile.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # stale pid file from a crash; pg_ctl start copes with it
    except PermissionError:
        pass  # alive, owned by another user
    # A reused pid after a reboot is not our server: it must also answer on its port.
    return (pid, port) if port_in_use(port) else None


# --- the commands ------------------------------------------------------------------------------


def status(base_dir: Path | str | None = None) -> ClusterStatus:
    """Whether the cluster runs, where, and whether the configured DATABASE_URL answers."""
    paths = _paths(base_dir)
    running = _running_pid(paths)
    configured = postgres.database_url()
    return ClusterStatus(
        base_dir=paths.base,
        data_dir=paths.data,
        log_file=paths.log,
        initialized=_exists(paths.version),
        running=running is not None,
        port=running[1] if running else _configured_port(paths),
        pid=running[0] if running else None,
        configured_url=configured,
        configured_url_answers=postgres.server_answers(configured, timeout_seconds=2),
    )


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except PermissionError:
        return False


def up(port: int | None = None, base_dir: Path | str | None = None) -> ClusterStatus:
    """Create (first time) and start the cluster; a running cluster is only reported."""
    paths = _paths(base_dir)
    current = status(paths.base)
    if current.running:
        if port is not None and port != current.port:
            raise DevClusterError(
                f"the dev cluster already runs on port {current.port}; run "
                f"`platformctl dev postgres down` first to move it to port {port}"
            )
        return replace(current, note="it was already running")

    if port is not None and port_in_use(port):
        raise DevClusterError(f"port {port} on {HOST} is already in use; pick another")
    user = _os_user()
    existing_major = paths.version.read_text().strip() if _exists(paths.version) else None
    bindir = find_bindir(existing_major)
    _prepare_dirs(paths, user)

    if existing_major is None:
        _initdb(paths, bindir, user)

    if port is None:
        # Keep the port of the previous start, so an exported DATABASE_URL stays valid.
        previous = _configured_port(paths)
        port = previous if previous and not port_in_use(previous) else choose_port()
    _write_conf(paths, port, user)

    pg_ctl = str(bindir / "pg_ctl")
    result = _run(
        [pg_ctl, "start", "-D", str(paths.data), "-l", str(paths.log), "-w", "-t", "60"],
        user,
        cwd=paths.base,
        timeout=90,
    )
    if result.returncode != 0:
        raise DevClusterError(_failure("pg_ctl start", result, paths.log))

    started = status(paths.base)
    if not started.running or started.database_url is None:
        raise DevClusterError(
            f"pg_ctl reported a start but no server answers on port {port}\n{_tail(paths.log)}"
        )
    try:
        postgres.ensure_database(started.database_url)
    except postgres.DatabaseUnavailable as exc:
        raise DevClusterError(f"the dev cluster started but refuses connections: {exc}") from exc
    note = "created and started just now" if existing_major is None else "started just now"
    return replace(started, note=note)


def down(base_dir: Path | str | None = None) -> ClusterStatus:
    """Stop the cluster (fast shutdown); a stopped cluster is only reported. Data stays."""
    paths = _paths(base_dir)
    current = status(paths.base)
    if not current.running:
        return replace(current, note="it was not running")
    user = _os_user()
    major = paths.version.read_text().strip() if _exists(paths.version) else None
    bindir = find_bindir(major)
    result = _run(
        [str(bindir / "pg_ctl"), "stop", "-D", str(paths.data), "-m", "fast", "-w", "-t", "60"],
        user,
        cwd=paths.base,
        timeout=90,
    )
    if result.returncode != 0:
        raise DevClusterError(_failure("pg_ctl stop", result, paths.log))
    return replace(status(paths.base), note="stopped just now")


def _prepare_dirs(paths: _Paths, user: str | None) -> None:
    for directory in (paths.base, paths.run):
        directory.mkdir(parents=True, exist_ok=True)
        _chown(directory, user)
    if paths.log.exists():
        _chown(paths.log, user)
    if user is None:
        return
    # The postgres user must reach the base directory through every parent directory.
    check = _run(["test", "-w", str(paths.base), "-a", "-x", str(paths.base)], user, cwd=Path("/"))
    if check.returncode != 0:
        raise DevClusterError(
            f"the `{user}` OS user (initdb/pg_ctl cannot run as root) cannot write "
            f"{paths.base}: a parent directory is not traversable by it. Allow it "
            f"(`chmod o+x` on the parents) or choose another directory with ${BASE_DIR_ENV}."
        )


def _initdb(paths: _Paths, bindir: Path, user: str | None) -> None:
    if paths.data.exists() and any(paths.data.iterdir()):
        raise DevClusterError(
            f"{paths.data} exists, is not empty and holds no PostgreSQL cluster "
            "(no PG_VERSION); move it away or delete it"
        )
    result = _run(
        [
            str(bindir / "initdb"),
            "-D", str(paths.data),
            "--auth=trust",
            f"--username={SUPERUSER}",
            "-E", "UTF8",
            f"--locale={_initdb_locale()}",
        ],
        user,
        cwd=paths.base,
        timeout=180,
    )  # fmt: skip
    if result.returncode != 0:
        raise DevClusterError(_failure("initdb", result))
    _include_conf(paths)
