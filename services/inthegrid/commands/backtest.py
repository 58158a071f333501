"""``inthegrid backtest``: evaluate an ArbitrageRule manifest over a price table."""

from __future__ import annotations

import argparse
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from inthegrid.commands import described

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "backtest",
        help="what a rule would have found in a price table, and its value",
        **described(
            "Evaluate an ArbitrageRule manifest over a price table: every opportunity it would have "
            "found, its value and a report.",
            "inthegrid backtest --prices data/prices/day_ahead_prices_hourly_2020_2024_utc.csv.gz "
            "--rule k8s/examples/arbitragerule-interconnected.yaml --from 2023-01-01 --to 2023-12-31 "
            "--out out/2023",
        ),
    )
    p.add_argument("--prices", required=True, help="price table: CSV, CSV.gz or Parquet")
    p.add_argument("--rule", required=True, help="ArbitrageRule manifest (YAML), the file you kubectl apply")
    p.add_argument("--rule-name", help="which ArbitrageRule, when the file holds several")
    p.add_argument("--from", dest="first", help="first day (YYYY-MM-DD, UTC) or ISO time")
    p.add_argument("--to", dest="last", help="last day (YYYY-MM-DD, UTC, inclusive) or ISO time (exclusive)")
    p.add_argument("--period", choices=["PT15M", "PT30M", "PT60M"], help="period length (default: inferred)")
    p.add_argument("--out", required=True, help="directory for summary.json, opportunities.csv, report.html")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument(
        "--auctions",
        action="append",
        default=[],
        help="JAO auction results export (CSV, as the JAO API gives it); repeatable. Periods no export "
        "covers use the rule's capacity price, marked assumed",
    )
    p.add_argument(
        "--capacities",
        action="append",
        default=[],
        help="published capacities: ENTSO-E A61/A31/A09/A11 XML or JAO export CSV; repeatable. Border "
        "values use them where they cover a period (the static capacity elsewhere) and say which",
    )
    p.add_argument(
        "--forecast-model",
        help="spread forecast model (inthegrid forecast train): explicit-capacity strategies also buy on "
        "its expected payout ('on_forecast'); train it on days before --from (needs inthegrid[forecast])",
    )
    p.set_defaults(handler=_run)


def run_backtest_files(
    prices: str | Path,
    rule_path: str | Path,
    out: str | Path,
    *,
    rule_name: str | None = None,
    first: str | None = None,
    last: str | None = None,
    period: str | None = None,
    report: bool = True,
    auctions: list[str | Path] | None = None,
    capacities: list[str | Path] | None = None,
    forecast_model: str | Path | None = None,
) -> dict[str, Any]:
    """Run a backtest from files and write its three outputs; returns the summary."""
    from inthegrid.backtest.engine import ISO_UTC, opportunities_frame, run_backtest, write_opportunities_csv
    from inthegrid.backtest.manifest import load_rule
    from inthegrid.backtest.report import render_report
    from inthegrid.backtest.summary import build_summary
    from inthegrid.domain.capacity import CapacityBook
    from inthegrid.sources.capacities import read_capacity_file
    from inthegrid.sources.jao import AuctionPrices, read_jao_auctions
    from inthegrid.sources.table import read_table

    rule = load_rule(rule_path, rule_name)
    table = read_table(prices, period).between(first, last)
    started = time.perf_counter()
    result = run_backtest(table, rule)
    prices_of_auctions = AuctionPrices(tuple(r for path in auctions or () for r in read_jao_auctions(path)))
    book = (
        CapacityBook.of(q for path in capacities or () for q in read_capacity_file(path))
        if capacities
        else None
    )
    forecast = None
    if forecast_model is not None:
        # Imported only here: the forecast extra (scikit-learn) is optional for the backtest.
        from inthegrid.forecast.model import load_forecaster
        from inthegrid.forecast.signal import forecast_payoff_signal

        forecast = forecast_payoff_signal(load_forecaster(forecast_model), table.frame)
    summary = build_summary(result, prices_of_auctions, capacities=book, forecast=forecast)
    summary["evaluation_seconds"] = round(time.perf_counter() - started, 4)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    frame = opportunities_frame(result, time_format=ISO_UTC)
    # pyarrow writes the CSV without holding the GIL, so the report renders meanwhile.
    with ThreadPoolExecutor(max_workers=1) as pool:
        written = pool.submit(write_opportunities_csv, frame, out_dir / "opportunities.csv")
        if report:
            (out_dir / "report.html").write_text(render_report(result, summary), encoding="utf-8")
        written.result()
    return summary


def _run(args: argparse.Namespace) -> int:
    summary = run_backtest_files(
        args.prices,
        args.rule,
        args.out,
        rule_name=args.rule_name,
        first=args.first,
        last=args.last,
        period=args.period,
        report=not args.no_report,
        auctions=args.auctions,
        capacities=args.capacities,
        forecast_model=args.forecast_model,
    )
    totals = summary["totals"]
    print(
        f"rule {summary['rule']}: {totals['pairs']} pairs, "
        f"{totals['opportunity_hours']} opportunity periods, "
        f"value {totals['value_eur_per_mw']:.2f} EUR/MW, congestion value (coupled borders, not profit) "
        f"{totals['congestion_value_eur']:.2f} EUR; wrote {args.out}/summary.json, opportunities.csv"
        + ("" if args.no_report else ", report.html")
    )
    if summary["missing_zones"]:
        print(f"zones missing from the price table (not evaluated): {', '.join(summary['missing_zones'])}")
    if summary["ignored_columns"]:
        print(f"table columns that are not zones (ignored): {', '.join(summary['ignored_columns'])}")
    return 0
