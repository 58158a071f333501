"""Simulator speed: a year of prices for the 11 zones of the shipped table, against reading a
year of the real table from disk (the replay source's alternative), measured in the same run.

    .venv/bin/python bench/bench_simulator.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from _common import ROOT, machine, stamp

from inthegrid.sources.simulator_model import PriceModel
from inthegrid.sources.table import read_table

ZONES = ["AT", "BE", "CH", "DE-LU", "DK1", "DK2", "ES", "FR", "IT-NORD", "NL", "PT"]
START = "2025-01-01T00:00:00Z"
TABLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    print(f"{machine()}; {stamp()}")
    read = _best(lambda: read_table(TABLE)) / 5  # the table holds 5 years
    print(f"baseline: reading the real table, per year of 11 zones hourly: {read:.3f} s")
    for resolution, per_day in (("PT60M", 24), ("PT15M", 96)):
        periods = 365 * per_day
        took = _best(lambda r=resolution, n=periods: PriceModel(ZONES, START, r, 1).take(n))
        print(
            f"{resolution}: a simulated year of {len(ZONES)} zones ({periods:,} periods) in {took:.3f} s "
            f"({periods / took:,.0f} periods/s); {took / read:.1f}x the time to read a real year"
        )


if __name__ == "__main__":
    main()
