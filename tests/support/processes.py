"""Services of InTheGrid as real child processes (`python -m inthegrid.cli <command>`), for tests
that need a crash (SIGKILL), a graceful stop (SIGTERM) or a look at /metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from inthegrid.local.embedded import free_port


class ServiceProcess:
    def __init__(
        self, command: list[str], env: dict[str, str], log_path: Path, metrics_port: int | None = None
    ) -> None:
        self.command = command
        self.metrics_port = metrics_port if metrics_port is not None else free_port()
        self.env = {
            **os.environ,
            **env,
            "INTHEGRID_METRICS_PORT": str(self.metrics_port),
            "INTHEGRID_METRICS_HOST": "127.0.0.1",
            "INTHEGRID_LOG_FORMAT": "json",
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_ready: float = 30.0) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inthegrid.cli", *self.command],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if wait_ready:
            self.wait_ready(wait_ready)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.command} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.command} not ready after {timeout}s:\n{self.log_tail()}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric_value(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples matching the labels (0 when absent)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            metric = head.split("{", 1)[0]
            if metric != name:
                continue
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye, as an OOM kill or a node failure."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout)
        return self.process.returncode

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
