"""Benchmark: the backtest over the full sample table (5 years, 11 zones, all 55 pairs).

Measures, in one run on this machine:
  1. the vectorised engine (evaluation + summary), best of 5;
  2. the whole `inthegrid backtest` work (read table, evaluate, write summary.json,
     opportunities.csv and report.html), once;
  3. a plain pandas baseline: a row-by-row loop (DataFrame.iterrows) calling the scalar domain code
     (value_pair / is_opportunity) for every pair, on the first BASELINE_ROWS rows, extrapolated
     linearly to the full table (the loop is linear in rows).

Run: .venv/bin/python bench/bench_backtest.py
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from inthegrid.backtest.engine import run_backtest
from inthegrid.backtest.manifest import load_rule
from inthegrid.backtest.summary import build_summary
from inthegrid.commands.backtest import run_backtest_files
from inthegrid.domain.economics import is_opportunity, value_pair
from inthegrid.sources.table import read_table

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
RULE = ROOT / "tests" / "fixtures" / "rules" / "all-sample-zones.yaml"
BASELINE_ROWS = 2000
LIMIT_SECONDS = 5.0


def baseline_loop(frame, rule, period_hours: float) -> tuple[int, float]:
    """Row-by-row: what one would write without vectorising (same domain functions)."""
    count, value = 0, 0.0
    for _, row in frame.iterrows():
        for (a, b), model in rule.pairs.items():
            pa, pb = row[a], row[b]
            if math.isnan(pa) or math.isnan(pb):
                continue
            v = value_pair(model, pa, pb, period_hours)
            if v is not None and is_opportunity(rule, v):
                count += 1
                value += v.net_eur_mwh * period_hours
    return count, value


def main() -> None:
    rule = load_rule(RULE)
    table = read_table(SAMPLE)
    rows, zones, pairs = len(table.frame), len(table.zones), len(rule.pairs)

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        summary = build_summary(run_backtest(table, rule))
        timings.append(time.perf_counter() - started)
    engine = min(timings)

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run_backtest_files(SAMPLE, RULE, out)
        full = time.perf_counter() - started

    head = table.frame.iloc[:BASELINE_ROWS]
    started = time.perf_counter()
    base_count, _ = baseline_loop(head, rule, table.period_hours)
    base_part = time.perf_counter() - started
    base_full = base_part * rows / len(head)
    # The baseline must agree with the engine on the rows it covered.
    head_summary = build_summary(run_backtest(type(table)(head, table.period), rule))
    assert base_count == head_summary["totals"]["opportunity_hours"], "baseline and engine disagree"

    print(
        f"table: {rows} rows x {zones} zones, rule: {pairs} pairs, "
        f"{summary['totals']['opportunity_hours']} opportunity periods"
    )
    print(f"vectorised engine (evaluate + summary), best of 5: {engine:.3f} s")
    print(
        f"whole backtest incl. reading the table and writing summary.json, opportunities.csv, "
        f"report.html: {full:.3f} s"
    )
    print(
        f"pandas iterrows baseline: {base_part:.2f} s for {len(head)} rows -> "
        f"{base_full:.1f} s extrapolated to {rows} rows"
    )
    print(f"speed-up of the engine over the baseline: {base_full / engine:.0f}x")
    verdict = "PASS" if full < LIMIT_SECONDS else "FAIL"
    print(f"target: whole backtest under {LIMIT_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
