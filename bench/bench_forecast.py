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


def capacity_strategies(forecaster: SpreadForecaster, table_frame, cost: float) -> str:
    """P&L per MW in 2024 of buying explicit capacity on the Swiss borders (both directions) hour by
    hour: always, when yesterday's same-hour spread exceeded the capacity price (naive), or when the
    forecast P50 does (signal). Capacity price: the indicative flat DE-LU->CH JAO price."""
    import pandas as pd

    from inthegrid.forecast.signal import capacity_pnl, expected_payout, forecast_periods

    test = table_frame[(table_frame.index >= "2023-12-31T23:00Z") & (table_frame.index < "2024-12-31T23:00Z")]
    lines = [
        f"| direction | hours | always: P&L EUR/MW | naive (D-1 > {cost}): hours, P&L "
        f"| forecast P50 > {cost}: hours, P&L | forecast E[max(spread, 0)] > {cost}: hours, P&L |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for a, b in [(x, y) for x, y in forecaster.borders if "CH" in (x, y)]:
        for src, dst in ((a, b), (b, a)):
            spread = table_frame[dst] - table_frame[src]
            signal = forecast_periods(forecaster, table_frame, src, dst, pd.DatetimeIndex(test.index))
            yesterday = spread.shift(24).reindex(test.index)  # same UTC hour the day before (known at D-1)
            actual = spread.reindex(test.index)
            always = capacity_pnl(actual, actual.notna(), cost)
            naive = capacity_pnl(actual, yesterday > cost, cost)
            model = capacity_pnl(actual, signal["p50"] > cost, cost)
            payout = capacity_pnl(actual, expected_payout(signal) > cost, cost)
            lines.append(
                f"| {src} -> {dst} | {int(actual.notna().sum())} | {always['pnl_eur']:,.0f} | "
                f"{naive['hours_bought']:,.0f}, {naive['pnl_eur']:,.0f} | "
                f"{model['hours_bought']:,.0f}, {model['pnl_eur']:,.0f} | "
                f"{payout['hours_bought']:,.0f}, {payout['pnl_eur']:,.0f} |"
            )
    return "\n".join(lines)


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
    from inthegrid.domain.grid import DEFAULT_BORDERS

    cost = next(b.capacity_price_eur_mwh for b in DEFAULT_BORDERS if b.key == ("CH", "DE-LU"))
    print("\nexplicit capacity on the Swiss borders in 2024, 1 MW, per direction:\n")
    print(capacity_strategies(forecaster, table.frame, cost))


if __name__ == "__main__":
    main()
