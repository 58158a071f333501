"""The replay source alone: peak RSS and rows/s of streaming the file against reading it whole.

Each mode runs in a fresh Python process that first imports what a feed imports (the feed service),
then replays the whole table of data/prices at a speed that makes every period due at once and counts
the prices; the process reports its peak RSS (ru_maxrss: imports included, as the feed pod pays them)
and its rows/s. Modes, alternated ``--runs`` times:

- ``imports``: the feed's imports only (the floor under both);
- ``whole``: the old path, ``read_table`` (pandas) then a replay of the table in memory;
- ``stream``: ``ReplaySource.from_path``, the file read row by row as it is replayed (the feed's path).

    .venv/bin/python bench/bench_replay_source.py
    .venv/bin/python bench/bench_replay_source.py --runs 3 --table other.csv.gz
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import load, machine, stamp

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
SPEED = 1e9  # simulated seconds per wall second: every period due at once
MODES = ("imports", "whole", "stream")


async def _replay(mode: str, table: Path) -> tuple[int, int]:
    from inthegrid.sources.replay import ReplaySource

    if mode == "stream":
        source = ReplaySource.from_path(table, speed=SPEED)
    else:
        from inthegrid.sources.table import read_table

        source = ReplaySource.from_table(read_table(table), speed=SPEED)
    prices = rows = 0
    async for batch in source.batches(asyncio.Event()):
        prices += len(batch)
        rows += len({p.delivery_start for p in batch})  # periods with at least one price
    return rows, prices


def child(mode: str, table: Path) -> None:
    import inthegrid.feed.service  # noqa: F401  (what a feed process has loaded before its source)

    started = time.perf_counter()
    rows, prices = asyncio.run(_replay(mode, table)) if mode != "imports" else (0, 0)
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"mode": mode, "rows": rows, "prices": prices, "seconds": seconds, "rss_mib": rss}))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--table", type=Path, default=TABLE)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.table)
        return
    print(f"machine: {machine()}; {stamp()}; {load()} at start")
    print(f"table: {args.table.name}; each mode in a fresh process, {args.runs} runs, alternated")
    results: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for _ in range(args.runs):
        for mode in MODES:
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--table", str(args.table)],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            results[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for mode in MODES:
        runs = results[mode]
        rss = statistics.median(r["rss_mib"] for r in runs)
        if mode == "imports":
            print(f"{mode:8} peak RSS {rss:6.1f} MiB (median of {len(runs)})")
            continue
        rate = statistics.median(r["rows"] / r["seconds"] for r in runs)
        price_rate = statistics.median(r["prices"] / r["seconds"] for r in runs)
        print(
            f"{mode:8} peak RSS {rss:6.1f} MiB; {runs[0]['rows']:,.0f} periods with prices, "
            f"{runs[0]['prices']:,.0f} prices; {rate:,.0f} rows/s, {price_rate:,.0f} prices/s (medians)"
        )
    whole, stream = results["whole"], results["stream"]
    assert [r["prices"] for r in whole] == [r["prices"] for r in stream], (
        "the modes replayed different prices"
    )
    rss_ratio = statistics.median(r["rss_mib"] for r in stream) / statistics.median(
        r["rss_mib"] for r in whole
    )
    speed_ratio = statistics.median(r["rows"] / r["seconds"] for r in stream) / statistics.median(
        r["rows"] / r["seconds"] for r in whole
    )
    print(f"stream / whole: peak RSS x{rss_ratio:.2f}, rows/s x{speed_ratio:.2f}; {load()} at end")


if __name__ == "__main__":
    main()
