"""``inthegrid analyze``: divergence, congestion value, negative hours and correlations of a price table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EXAMPLE = """example:
  inthegrid analyze --prices data/prices/day_ahead_prices_hourly_2020_2024_utc.csv.gz \\
      --pair DE-LU/FR --pair DE-LU/NL --from 2023-01-01 --to 2023-12-31 --out analysis/

writes analysis/analysis.json and, per table, divergence.csv, heatmap.csv, congestion.csv,
negative_hours.csv and correlation.csv. Without --pair every real border between the table's zones
is analysed. Years, months and hours are in market time (Europe/Brussels)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="how often zones converge, congestion value per border, negative hours, correlations",
        description="Analyse a price table: share of periods with equal prices per pair (by year, "
        "month x hour), the direction and size of spreads, the congestion value of each border "
        "(income of the grid operators on coupled borders, not a trader's profit), hours with "
        "negative prices per zone and year, and the correlation of zone prices by year.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--prices", required=True, help="price table: CSV, CSV.gz or Parquet")
    p.add_argument(
        "--pair",
        action="append",
        default=[],
        metavar="A/B",
        help="zone pair, e.g. DE-LU/FR (repeatable; default: every real border in the table)",
    )
    p.add_argument("--from", dest="first", help="first day (YYYY-MM-DD, UTC) or ISO time")
    p.add_argument("--to", dest="last", help="last day (YYYY-MM-DD, UTC, inclusive) or ISO time (exclusive)")
    p.add_argument("--period", choices=["PT15M", "PT60M"], help="period length (default: inferred)")
    p.add_argument("--out", required=True, help="directory for analysis.json and the CSV tables")
    p.add_argument("--format", choices=["all", "json", "csv"], default="all", help="what to write")
    p.set_defaults(handler=_run)


def analyze_file(
    prices: str | Path,
    out: str | Path,
    *,
    pairs: list[str] | None = None,
    first: str | None = None,
    last: str | None = None,
    period: str | None = None,
    fmt: str = "all",
) -> dict[str, Any]:
    """Analyse a price table and write the outputs; returns the JSON document."""
    from inthegrid.analytics.frames import parse_pairs, require_zones
    from inthegrid.analytics.report import analysis_tables, analyze_frame
    from inthegrid.sources.table import read_table

    chosen = parse_pairs(pairs or [])
    table = read_table(prices, period).between(first, last)
    for pair in chosen:
        require_zones(table.frame, pair)
    document = analyze_frame(table.frame, table.period_hours, chosen or None)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt in ("all", "json"):
        (out_dir / "analysis.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    if fmt in ("all", "csv"):
        for name, frame in analysis_tables(document).items():
            frame.to_csv(out_dir / f"{name}.csv", index=False, lineterminator="\n")
    return document


def _run(args: argparse.Namespace) -> int:
    document = analyze_file(
        args.prices,
        args.out,
        pairs=args.pair,
        first=args.first,
        last=args.last,
        period=args.period,
        fmt=args.format,
    )
    span = document["range"]
    print(f"analysed {span['periods']} periods, {span['from']} to {span['to']}")
    for item in document["pairs"]:
        summary = item["summary"] or {}
        share = summary.get("converged_share")
        text = "no common periods" if share is None else f"equal prices in {100 * share:.1f} % of periods"
        print(f"  {item['pair'][0]}/{item['pair'][1]}: {text}")
    print(f"wrote {args.out}")
    return 0
