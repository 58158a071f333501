"""Shared pieces of the benchmarks: the machine, percentiles, embedded servers in a throw-away
directory, service child processes and their peak memory."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.support lives beside bench/, not in the installed package
    sys.path.insert(0, str(ROOT))

from inthegrid.local.embedded import EmbeddedNats, EmbeddedPostgres  # noqa: E402
from tests.support.polling import wait_until  # noqa: E402
from tests.support.processes import ServiceProcess  # noqa: E402

__all__ = ["ServiceProcess", "wait_until"]


def machine() -> str:
    """One line naming this machine, for RESULTS.md."""
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB RAM, Python {platform.python_version()}"


def load() -> str:
    """The 1-minute load average: other work on this machine skews every figure (2 cores)."""
    return f"load average {os.getloadavg()[0]:.1f}"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


@contextlib.contextmanager
def servers(fast: bool) -> Iterator[tuple[EmbeddedNats, EmbeddedPostgres]]:
    """A nats-server and a PostgreSQL in a fresh directory, removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="inthegrid-bench-"))
    base.chmod(0o755)  # PostgreSQL runs as an unprivileged user when we are root: it must traverse this
    try:
        with EmbeddedNats(base / "js") as nats_server, EmbeddedPostgres(base / "pg", fast=fast) as pg:
            yield nats_server, pg
    finally:
        shutil.rmtree(base, ignore_errors=True)


class PeakMemory:
    """Samples the resident set size of named processes in a thread; keeps the peak of each."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._procs: dict[str, psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self._procs[name] = psutil.Process(pid)

    def forget(self, name: str) -> None:
        with self._lock:
            self._procs.pop(name, None)
            self.peaks.pop(name, None)

    def reset(self) -> None:
        with self._lock:
            self.peaks.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                for name, proc in list(self._procs.items()):
                    try:
                        rss = proc.memory_info().rss
                    except psutil.Error:
                        continue
                    self.peaks[name] = max(self.peaks.get(name, 0), rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
