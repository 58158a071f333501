"""`inthegrid up` cold start (fresh data directory: initdb, migrations, every service) with plain
PostgreSQL and with TimescaleDB (INTHEGRID_EMBEDDED_STORAGE), one after the other.

Times from process start to: the gateway's /health reporting NATS and the database; all five zones
in /api/prices/latest (live, from the bus); all five zones stored (/api/history/latest, the
database, so the recorder has migrated and written).

    .venv/bin/python bench/bench_up_cold_start.py [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _common import ROOT, load, machine, stamp

from inthegrid.local.embedded import free_port

ZONES = 5


def wait(check: str, client: httpx.Client, deadline: float) -> float:
    while time.monotonic() < deadline:
        try:
            response = client.get(check)
            body = response.json()
            if check == "/health" and body.get("checks") == {"nats": True, "database": True}:
                return time.monotonic()
            if check != "/health" and body.get("count", 0) >= ZONES:
                return time.monotonic()
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{check} not ready")


def one_start(storage: str) -> tuple[dict[str, float], str]:
    base = Path(tempfile.mkdtemp(prefix="inthegrid-bench-up-"))
    base.chmod(0o755)
    port = free_port()
    env = {**os.environ, "INTHEGRID_EMBEDDED_STORAGE": storage, "INTHEGRID_LOG_LEVEL": "WARNING"}
    env.pop("INTHEGRID_DATABASE_URL", None)
    env.pop("INTHEGRID_NATS_URL", None)
    out = base / "up.out"
    started = time.monotonic()
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "inthegrid"), "up", "--data-dir", str(base / "data"), "--port",
             str(port), "--no-dashboard"],
            stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            deadline = started + 180
            marks = {
                "health": wait("/health", client, deadline) - started,
                "live prices": wait("/api/prices/latest", client, deadline) - started,
                "stored prices": wait("/api/history/latest", client, deadline) - started,
            }
        banner = next(
            (line.strip() for line in out.read_text().splitlines() if line.strip().startswith("Storage")), "?"
        )
        return marks, banner
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print(f"{stamp()}; {machine()}; {load()}")
    for storage in ("postgresql", "timescaledb"):
        runs = [one_start(storage) for _ in range(args.runs)]
        banner = runs[-1][1]
        for mark in runs[0][0]:
            values = [marks[mark] for marks, _ in runs]
            print(
                f"  {storage:11s} {mark:14s} median {statistics.median(values):5.1f} s"
                f" (runs: {', '.join(f'{v:.1f}' for v in values)})"
            )
        print(f"  {storage:11s} banner: {banner}")


if __name__ == "__main__":
    main()
