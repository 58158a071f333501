"""Benchmark: day-ahead spread forecasts on held-out real data.

Trains the quantile models on the sample table up to 2023-12-31 (every real border between its
zones with at least 90 days of hours), then scores market-time days 2024-01-01 .. 2024-12-31 against
the naive forecasts (same hour previous day, same hour previous week, and previous day plus the
quantiles of its training errors). Prints the Markdown table for RESULTS.md and the timings.

Run: .venv/bin/python bench/bench_forecast.py
"""

from __future__ import annotations

import time
from pathlib import Path

from _common import load, machine, stamp

from inthegrid.analytics.frames import borders_in
from inthegrid.commands.forecast import render_scores
from inthegrid.forecast.evaluate import evaluate_border
from inthegrid.forecast.model import SpreadForecaster
from inthegrid.sources.table import read_table

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"


def main() -> None:
    print(f"{stamp()}; {machine()}; {load()}")
    table = read_table(SAMPLE)
    borders = [b.key for b in borders_in(table.frame.columns)]
    started = time.perf_counter()
    forecaster = SpreadForecaster().fit(table.between(None, "2023-12-31").frame, borders)
    trained = time.perf_counter() - started
    print(f"trained {len(forecaster.models)} of {len(borders)} borders in {trained:.1f} s (3 quantiles each)")
    skipped = sorted(set(borders) - set(forecaster.models))
    if skipped:
        print(
            "not trained (fewer than 90 days of training hours): " + ", ".join(f"{a}/{b}" for a, b in skipped)
        )
    started = time.perf_counter()
    results = [
        evaluate_border(forecaster, table.frame, b, "2024-01-01", "2025-01-01") for b in forecaster.borders
    ]
    print(f"evaluated in {time.perf_counter() - started:.1f} s; {load()}\n")
    print(render_scores(results))
    tested = [r for r in results if r["test_hours"]]
    print(
        f"\nwith test data: {len(tested)} borders; the model's P50 beats the best naive MAE on "
        f"{sum(r['beats_naive_mae'] for r in tested)}, its quantiles beat the best naive pinball loss on "
        f"{sum(r['beats_naive_pinball'] for r in tested)}; 'mean abs spread' is the MAE of always "
        "forecasting 0 (converged)"
    )


if __name__ == "__main__":
    main()
