"""``inthegrid convert``: ENTSO-E A44 documents to the price-table format (CSV, CSV.gz, Parquet)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inthegrid.commands import described


def register(sub: Any) -> None:
    p = sub.add_parser(
        "convert",
        help="turn ENTSO-E A44 price documents into a price table",
        **described(
            "Turn ENTSO-E A44 day-ahead or intraday price documents (XML) into a price table (CSV or "
            "Parquet) of one market.",
            "inthegrid convert tests/fixtures/entsoe/emaps_ES_intraday_price.xml --market ida1 --out i.csv",
        ),
    )
    p.add_argument("files", nargs="+", metavar="FILE.xml", help="A44 documents (several zones/days allowed)")
    p.add_argument("--out", required=True, help="output table: .csv, .csv.gz or .parquet")
    p.add_argument(
        "--period",
        choices=["PT15M", "PT60M"],
        help="period of the table (default: the finest in the documents)",
    )
    p.add_argument(
        "--sequence",
        type=int,
        default=1,
        help="classificationSequence to keep where a zone has several (1 = SDAC)",
    )
    p.add_argument(
        "--market",
        choices=["day_ahead", "intraday", "ida1", "ida2", "ida3"],
        help="market to write (default: day_ahead, or the only market in the documents)",
    )
    p.set_defaults(handler=_run)


def convert_documents(
    files: list[str | Path],
    out: str | Path,
    *,
    period: str | None = None,
    sequence: int = 1,
    market: str | None = None,
) -> Path:
    from inthegrid.domain.prices import Market, Price
    from inthegrid.errors import SourceError, ValidationError
    from inthegrid.sources.entsoe.parse import parse_prices
    from inthegrid.sources.table import prices_to_table, write_table

    prices: list[Price] = []
    for name in files:
        path = Path(name)
        try:
            document = path.read_bytes()
        except OSError as exc:
            raise ValidationError(f"{path}: cannot be read ({exc.strerror})") from None
        try:
            prices.extend(parse_prices(document, source="entsoe", sequence=sequence))
        except SourceError as exc:  # the file the user gave holds no usable prices: their input
            raise ValidationError(f"{path}: {exc}") from None
    found = {p.market for p in prices}
    if market is not None:
        chosen = Market.parse(market)
    elif Market.DAY_AHEAD in found or len(found) <= 1:
        chosen = Market.DAY_AHEAD if Market.DAY_AHEAD in found or not found else found.pop()
    else:
        names = ", ".join(sorted(m.value for m in found))
        raise ValidationError(f"the documents hold several markets ({names}): choose one with --market")
    return write_table(prices_to_table(prices, period, chosen), out)


def _run(args: argparse.Namespace) -> int:
    path = convert_documents(
        args.files, args.out, period=args.period, sequence=args.sequence, market=args.market
    )
    print(f"wrote {path}")
    return 0
