"""Start embedded NATS and PostgreSQL (unless real ones are configured), then the services as
supervised child processes: a crashed service is restarted with backoff; Ctrl-C stops everything
in order (feeds first, so nothing is left half-processed; servers last).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from inthegrid.domain.rules import PROOF_OF_CONCEPT_ZONES
from inthegrid.errors import ConfigError
from inthegrid.local.child_env import without_foreign_secrets
from inthegrid.local.embedded import EmbeddedNats, EmbeddedPostgres, free_port

log = logging.getLogger(__name__)


@dataclass
class UpOptions:
    data_dir: Path
    http_port: int = 8000
    http_host: str = "127.0.0.1"
    source: str = "simulator"  # or "replay:PATH"
    zones: tuple[str, ...] = PROOF_OF_CONCEPT_ZONES
    nats_url: str | None = None
    database_url: str | None = None
    dashboard: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logfile = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "inthegrid.cli", *self.args],
            env=self.env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        logfile.close()
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def _preferred_port(port: int) -> int:
    return port if _port_free(port) else free_port()


POC_RULE = {
    "apiVersion": "inthegrid.io/v1alpha1",
    "kind": "ArbitrageRule",
    "metadata": {"name": "proof-of-concept"},
    "spec": {
        "zones": list(PROOF_OF_CONCEPT_ZONES),
        "costModel": {"type": "flat", "flatCostEurPerMWh": 2.5},
        "paths": "direct",
        "minNetSpreadEurPerMWh": 0,
    },
}


class Platform:
    def __init__(self, options: UpOptions) -> None:
        self.options = options
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.children: list[Child] = []
        self.nats_url = options.nats_url or ""
        self.database_url = options.database_url or ""
        self.storage = "unknown"

    def start_servers(self) -> None:
        data = self.options.data_dir
        data.mkdir(parents=True, exist_ok=True)
        if not self.nats_url:
            self.nats = EmbeddedNats(data / "nats", port=_preferred_port(4222)).start()
            self.nats_url = self.nats.url
        if not self.database_url:
            self.postgres = EmbeddedPostgres(data / "postgres", port=_preferred_port(5432)).start()
            _create_database(self.postgres, "inthegrid")
            self.database_url = self.postgres.url("inthegrid")
        self.storage = _server_storage(self.database_url)
        log.info("storage: %s", self.storage)

    def _env(self, service: str, metrics_port: int, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTHEGRID_")}
        env.update({k: v for k, v in os.environ.items() if k.startswith("INTHEGRID_")})
        env.update(
            {
                "INTHEGRID_NATS_URL": self.nats_url,
                "INTHEGRID_METRICS_PORT": str(metrics_port),
                "INTHEGRID_METRICS_HOST": "127.0.0.1",
                "INTHEGRID_LOG_FORMAT": os.environ.get("INTHEGRID_LOG_FORMAT", "json"),
            }
        )
        env.update(self.options.extra_env)
        env.update(extra)
        return without_foreign_secrets(service, env)

    def plan_children(self) -> None:
        opts, logs = self.options, self.options.data_dir / "logs"
        rule_path = opts.data_dir / "rules" / "proof-of-concept.yaml"
        rule_path.parent.mkdir(parents=True, exist_ok=True)
        rule_spec = dict(POC_RULE)
        rule_spec["spec"] = {**POC_RULE["spec"], "zones": list(opts.zones)}  # type: ignore[dict-item]
        rule_path.write_text(yaml.safe_dump(rule_spec, sort_keys=False), encoding="utf-8")
        feed_env: dict[str, str] = {"INTHEGRID_FEED_ZONES": ",".join(opts.zones)}
        if opts.source.startswith("replay:"):
            path = Path(opts.source.removeprefix("replay:")).expanduser().resolve()
            if not path.exists():
                raise ConfigError(f"replay table {path} does not exist")
            feed_env.update(
                {
                    "INTHEGRID_FEED_SOURCE": "replay",
                    "INTHEGRID_FEED_NAME": "replay",
                    "INTHEGRID_REPLAY_PATH": str(path),
                    "INTHEGRID_FEED_RESOLUTION": "PT60M",
                }
            )
        elif opts.source == "simulator":
            # The feed resumes by itself from its checkpoint on the bus (after a crash too, when the
            # supervisor restarts it with this same environment): nothing to compute here.
            feed_env.update({"INTHEGRID_FEED_SOURCE": "simulator", "INTHEGRID_FEED_NAME": "simulator"})
        else:
            raise ConfigError(f"--source must be 'simulator' or 'replay:PATH', got {opts.source!r}")
        ports = [_preferred_port(p) for p in (9101, 9102, 9103)]
        self.children = [
            Child(
                "gateway",
                ["gateway"],
                self._env(
                    "gateway",
                    0,
                    INTHEGRID_DATABASE_URL=self.database_url,
                    INTHEGRID_HTTP_PORT=str(opts.http_port),
                    INTHEGRID_HTTP_HOST=opts.http_host,
                    INTHEGRID_DASHBOARD="true" if opts.dashboard else "false",
                ),
                logs / "gateway.log",
            ),
            Child(
                "recorder",
                ["recorder"],
                self._env("recorder", ports[2], INTHEGRID_DATABASE_URL=self.database_url),
                logs / "recorder.log",
            ),
            Child(
                "calculator",
                ["calculator"],
                self._env(
                    "calculator",
                    ports[1],
                    INTHEGRID_RULE_NAME="proof-of-concept",
                    INTHEGRID_RULE_FILE=str(rule_path),
                ),
                logs / "calculator.log",
            ),
            Child("feed", ["feed"], self._env("feed", ports[0], **feed_env), logs / "feed.log"),
        ]
        self.metrics_ports = {"feed": ports[0], "calculator": ports[1], "recorder": ports[2]}

    def start_children(self) -> None:
        for child in self.children:
            child.start()

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restart a child that exits unexpectedly, with capped backoff."""
        while not stop.is_set():
            for child in self.children:
                if not child.alive() and not stop.is_set():
                    code = child.process.returncode if child.process else None
                    delay = min(30.0, 0.5 * 2 ** min(child.restarts, 6))
                    if time.monotonic() - child.started_at > 60:
                        child.restarts = 0
                    log.warning(
                        "%s exited with %s; restarting in %.1fs (see %s)",
                        child.name,
                        code,
                        delay,
                        child.log_path,
                    )
                    child.restarts += 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    if not stop.is_set():
                        child.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    def stop(self) -> None:
        # Feeds first, then the calculator, the recorder and the gateway: each drains what it holds.
        for child in reversed(self.children):
            child.terminate()
            child.wait(20)
        if self.postgres is not None:
            self.postgres.stop()
        if self.nats is not None:
            self.nats.stop()


def _server_storage(database_url: str) -> str:
    """What the server offers the recorder: TimescaleDB (preloaded, so its migration takes it) or not."""
    import asyncpg

    async def query() -> str:
        try:
            conn = await asyncpg.connect(database_url, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            return f"unknown (cannot connect: {exc})"
        try:
            version = await conn.fetchval("SHOW server_version")
            preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
            tsdb = await conn.fetchval(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
            )
            try:
                recorded = await conn.fetchval("SELECT value FROM schema_info WHERE key = 'storage'")
            except asyncpg.UndefinedTableError:
                recorded = None  # a new database: the recorder's migrations decide
        finally:
            await conn.close()
        if tsdb and "timescaledb" in str(preload):
            if recorded == "postgresql":
                return (
                    f"postgresql tables on PostgreSQL {version}: this database was created before "
                    f"TimescaleDB {tsdb} was available (a new data directory gets hypertables)"
                )
            return f"timescaledb {tsdb} on PostgreSQL {version}"
        return f"postgresql {version} (plain tables; no TimescaleDB preloaded)"

    return asyncio.run(query())


def _create_database(postgres: EmbeddedPostgres, name: str) -> None:
    psql = postgres.bin_dir / "psql"
    query = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"
    base = [
        str(psql),
        "-h",
        postgres.host,
        "-p",
        str(postgres.port),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-tAc",
    ]
    found = subprocess.run([*base, query], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise ConfigError(f"cannot query the embedded PostgreSQL: {found.stderr.strip()}")
    if found.stdout.strip() != "1":
        made = subprocess.run(
            [*base, f'CREATE DATABASE "{name}"'], capture_output=True, text=True, check=False
        )
        if made.returncode != 0:
            raise ConfigError(f"cannot create database {name}: {made.stderr.strip()}")


def banner(platform: Platform) -> str:
    o = platform.options
    base = f"http://{o.http_host}:{o.http_port}"
    lines = [
        "InTheGrid is up.",
        f"  REST API     {base}/api/prices/latest  {base}/api/spreads/latest",
        f"  API docs     {base}/docs",
    ]
    if o.dashboard:
        lines.append(f"  Dashboard    {base}/dashboard/")
    lines += [
        f"  Metrics      {base}/metrics  "
        + "  ".join(
            f"{name}: http://127.0.0.1:{port}/metrics" for name, port in platform.metrics_ports.items()
        ),
        f"  NATS         {platform.nats_url}" + (" (embedded)" if platform.nats else ""),
        "  PostgreSQL   "
        + (platform.database_url if not platform.postgres else f"{platform.database_url} (embedded)"),
        f"  Storage      {platform.storage}",
        f"  Data, logs   {o.data_dir}",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


async def run_up(options: UpOptions) -> None:
    platform = Platform(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.to_thread(platform.start_servers)
        await asyncio.to_thread(platform.plan_children)
        platform.start_children()
        print(banner(platform), flush=True)
        await platform.supervise(stop)
    finally:
        print("stopping...", flush=True)
        await asyncio.to_thread(platform.stop)
        print("stopped.", flush=True)
