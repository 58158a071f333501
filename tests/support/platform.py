"""`inthegrid up` as a real subprocess, for tests that need the whole platform running locally.

The launcher starts embedded NATS and PostgreSQL and the feed, calculator, recorder and gateway as
child processes. It prefers well-known ports and falls back to free ones, so the only reliable
source of the metrics URLs is the banner it prints: this module reads it from stdout.

Tests request the session fixture ``local_platform`` by loading this module as a plugin::

    pytest_plugins = ["tests.support.platform"]

so every module of a session shares one platform (starting it takes ~20 s).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inthegrid.domain.rules import PROOF_OF_CONCEPT_ZONES
from tests.support.servers import free_port, missing_binaries, server_dir

BANNER_END = "Press Ctrl-C to stop."
METRICS_LINE = re.compile(r"^\s*Metrics\s+(?P<gateway>http://\S+/metrics)(?P<rest>.*)$")
SERVICE_METRICS = re.compile(r"(?P<service>[a-z]+): (?P<url>http://\S+/metrics)")
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
UP_COMMAND = (sys.executable, "-m", "inthegrid.cli", "up")


class PlatformError(AssertionError):
    """The platform did not start or stop as it must (a test failure, not an infrastructure skip)."""


def parse_metrics_urls(banner: str) -> dict[str, str]:
    """{service: /metrics URL} from the launcher's banner; the gateway serves /metrics on its HTTP port."""
    for line in banner.splitlines():
        found = METRICS_LINE.match(line)
        if found:
            urls = {"gateway": found["gateway"]}
            urls |= {m["service"]: m["url"] for m in SERVICE_METRICS.finditer(found["rest"])}
            return urls
    raise PlatformError(f"no Metrics line in the banner:\n{banner}")


class LocalPlatform:
    """``python -m inthegrid.cli up --data-dir DIR --port PORT`` with its output collected."""

    def __init__(self, data_dir: Path, http_port: int) -> None:
        self.data_dir = data_dir
        self.http_port = http_port
        self.base_url = f"http://127.0.0.1:{http_port}"
        self.metrics_urls: dict[str, str] = {}
        self.process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._banner_done = threading.Event()

    @property
    def output(self) -> str:
        return "\n".join(self._lines)

    def start(self, timeout: float = READY_TIMEOUT_S) -> LocalPlatform:
        # INTHEGRID_* of the developer's shell (an external NATS_URL, say) would change what runs.
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTHEGRID_")}
        self.process = subprocess.Popen(
            [*UP_COMMAND, "--data-dir", str(self.data_dir), "--port", str(self.http_port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        threading.Thread(target=self._read_output, daemon=True, name="inthegrid-up-output").start()
        deadline = time.monotonic() + timeout
        self._wait(self._banner_done.is_set, deadline, "the banner")
        self.metrics_urls = parse_metrics_urls(self.output)
        self._wait(
            self._all_zones_priced, deadline, f"{len(PROOF_OF_CONCEPT_ZONES)} zones in /api/prices/latest"
        )
        return self

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line.rstrip("\n"))
            if line.strip() == BANNER_END:
                self._banner_done.set()

    def _wait(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise PlatformError(
                    f"inthegrid up exited with {self.process.returncode}:\n{self.diagnostics()}"
                )
            if ready():
                return
            time.sleep(0.25)
        raise PlatformError(f"timed out waiting for {what}:\n{self.diagnostics()}")

    def _all_zones_priced(self) -> bool:
        try:
            body = self.get_json("/api/prices/latest")
        except (OSError, ValueError):
            return False
        return {p["zone"] for p in body.get("prices", [])} >= set(PROOF_OF_CONCEPT_ZONES)

    def get_json(self, path: str) -> dict[str, Any]:
        # base_url is always http://127.0.0.1:<port>, built above.
        with urllib.request.urlopen(self.base_url + path, timeout=5) as response:  # noqa: S310
            return dict(json.loads(response.read()))

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, as Ctrl-C or a service manager would; the exit code (-9 if it had to be killed)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                return -9
        return self.process.returncode

    def diagnostics(self, chars: int = 2000) -> str:
        """The launcher's output and the tail of every service log, for failure messages."""
        parts = [f"--- inthegrid up ---\n{self.output[-chars:]}"]
        for log in sorted((self.data_dir / "logs").glob("*.log")):
            parts.append(f"--- {log.name} ---\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)


@pytest.fixture(scope="session")
def local_platform() -> Iterator[LocalPlatform]:
    """One running platform for the session; stopping it cleanly (exit 0 within 60 s) is asserted."""
    reason = missing_binaries()
    if reason is not None:
        pytest.skip(f"inthegrid up needs nats-server and PostgreSQL binaries: {reason}")
    with server_dir("up") as base:
        platform = LocalPlatform(base / "data", http_port=free_port())
        try:
            platform.start()
            yield platform
        finally:
            started = time.monotonic()
            code = platform.stop()
            took = time.monotonic() - started
        assert code == 0, f"inthegrid up exited with {code} after SIGTERM:\n{platform.diagnostics()}"
        assert took < STOP_TIMEOUT_S, f"inthegrid up took {took:.1f}s to stop"
