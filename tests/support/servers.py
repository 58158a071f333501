"""Real nats-server and PostgreSQL for tests, in throw-away directories on free ports.

Thin wrappers over ``inthegrid.local.embedded``: the same starters ``inthegrid up`` uses.
A server object survives ``kill()`` (SIGKILL) and ``start()`` again on the same port and data,
which is how tests simulate crashes and outages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from inthegrid.local.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServerError,
    find_nats_server,
    find_postgres_bin_dir,
    free_port,
)
from inthegrid.local.pg_install import (
    BUILD_SCRIPT,
    PostgresInstallError,
    choose_install,
)

__all__ = [
    "BUILD_SCRIPT",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "free_port",
    "missing_binaries",
    "nats_server",
    "postgres_server",
    "server_dir",
    "timescaledb_required",
    "timescaledb_unavailable",
]


def missing_binaries() -> str | None:
    """Why the servers cannot start on this machine, or None when they can."""
    try:
        find_nats_server()
        find_postgres_bin_dir()
    except EmbeddedServerError as exc:
        return str(exc)
    return None


def timescaledb_unavailable() -> str | None:
    """Why no TimescaleDB server can start here, or None when it can."""
    try:
        choose_install("timescaledb")
    except PostgresInstallError as exc:
        return str(exc)
    return None


def timescaledb_required() -> bool:
    """Under CI a missing TimescaleDB build fails its tests: that path must never rot unseen.
    Elsewhere they skip with the reason (the vendored source or toolchain may be absent)."""
    return os.environ.get("CI", "").lower() == "true"


@contextlib.contextmanager
def server_dir(prefix: str) -> Iterator[Path]:
    """A directory other users can traverse: PostgreSQL runs unprivileged when tests run as root,
    and pytest's own tmp_path (mode 0700 under /tmp/pytest-of-root) is closed to it."""
    path = Path(tempfile.mkdtemp(prefix=f"inthegrid-{prefix}-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def nats_server() -> Iterator[EmbeddedNats]:
    with server_dir("nats") as base, EmbeddedNats(base / "jetstream") as server:
        yield server


@contextlib.contextmanager
def postgres_server(fast: bool = True, storage: str = "postgresql") -> Iterator[EmbeddedPostgres]:
    """PostgreSQL with durability off by default (tests do not survive power cuts; they do survive
    clean stops and restarts, which is what they exercise). ``storage`` = postgresql (plain, the
    default whatever is built) or timescaledb (the build of ``scripts/build-timescaledb.sh``)."""
    with server_dir("pg") as base, EmbeddedPostgres(base / "data", fast=fast, storage=storage) as server:
        yield server
