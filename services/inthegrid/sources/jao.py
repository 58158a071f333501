"""JAO auction results in their real export format: the public auction API flattened to CSV.

One row per auction (``corridorCode``, ``horizonName``, ``marketPeriodStart``/``Stop`` in UTC,
``identification``...); its ``results`` column is a Python-literal list of one dict per product
(``productIdentification`` ``B01``..``B24`` for the hours of a daily auction, ``BASE`` for a
monthly or yearly base product) with ``offeredCapacity``, ``allocatedCapacity`` and
``auctionPrice`` (EUR/MWh, i.e. EUR per MW and hour). Daily product ``Bhh`` is the hh-th hour of
the auction's delivery period.
"""

from __future__ import annotations

import ast
import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from inthegrid.domain.capacity import BorderQuantity, CapacityKind
from inthegrid.domain.prices import as_utc
from inthegrid.domain.zones import zone_code
from inthegrid.errors import InTheGridError, ValidationError

HORIZONS = ("Yearly", "Monthly", "Daily")


@dataclass(frozen=True, slots=True)
class AuctionResult:
    """One product of one auction: capacity from ``source`` to ``target`` over [start, end)."""

    source: str
    target: str
    horizon: str
    auction_id: str
    product: str
    delivery_start: datetime
    delivery_end: datetime
    offered_mw: float
    allocated_mw: float
    price_eur_mwh: float


def _corridor(text: str) -> tuple[str, str]:
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise ValidationError(f"JAO corridor {text!r} is not FROM-TO")
    return zone_code(parts[0]), zone_code(parts[1])


def _products(row: dict[str, str], line: int) -> list[AuctionResult]:
    source, target = _corridor(row["corridorCode"])
    horizon = row["horizonName"].strip()
    if horizon not in HORIZONS:
        raise ValidationError(f"line {line}: horizon {horizon!r} is not one of {', '.join(HORIZONS)}")
    start, stop = as_utc(row["marketPeriodStart"]), as_utc(row["marketPeriodStop"])
    try:
        results = ast.literal_eval(row["results"] or "[]")
    except (ValueError, SyntaxError):
        raise ValidationError(f"line {line}: the results column is not a list of products") from None
    out = []
    for product in results:
        ident = str(product["productIdentification"]).rstrip("-")
        if ident.startswith("B") and ident[1:].isdigit() and horizon == "Daily":
            first = start + timedelta(hours=int(ident[1:]) - 1)
            begin, end = first, first + timedelta(hours=1)
        else:
            begin, end = start, stop
        out.append(
            AuctionResult(
                source,
                target,
                horizon,
                row["identification"],
                ident,
                begin,
                end,
                float(product.get("offeredCapacity") or 0.0),
                float(product.get("allocatedCapacity") or 0.0),
                float(product["auctionPrice"]),
            )
        )
    return out


def parse_jao_auctions(text: str) -> list[AuctionResult]:
    """Every product of every non-cancelled auction in a JAO export; errors name the line."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"corridorCode", "horizonName", "marketPeriodStart", "marketPeriodStop", "results"} - set(
        reader.fieldnames or ()
    )
    if missing:
        raise ValidationError(f"not a JAO auction export: missing columns {', '.join(sorted(missing))}")
    out: list[AuctionResult] = []
    for line, row in enumerate(reader, start=2):
        if row.get("cancelled", "").strip().lower() == "true":
            continue
        try:
            out.extend(_products(row, line))
        except (KeyError, TypeError) as exc:
            raise ValidationError(f"line {line}: a product lacks {exc}") from None
        except InTheGridError as exc:
            raise ValidationError(f"line {line}: {exc}") from None
    return out


def read_jao_auctions(path: str | Path) -> list[AuctionResult]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read JAO export {path}: {exc.strerror}") from None
    return parse_jao_auctions(text)


@dataclass(frozen=True)
class AuctionPrices:
    """Auction prices looked up per delivery period, per direction and horizon."""

    results: tuple[AuctionResult, ...] = ()

    def per_period(self, source: str, target: str, horizon: str, index: pd.DatetimeIndex) -> np.ndarray:
        """The price of the ``horizon`` product covering each period (NaN where no auction did)."""
        prices = np.full(len(index), np.nan)
        starts = pd.DatetimeIndex(index).as_unit("ns")
        for r in self.results:
            if (r.source, r.target, r.horizon) != (source, target, horizon):
                continue
            lo = starts.searchsorted(pd.Timestamp(r.delivery_start), side="left")
            hi = starts.searchsorted(pd.Timestamp(r.delivery_end), side="left")
            prices[lo:hi] = r.price_eur_mwh
        return prices


def auction_quantities(results: list[AuctionResult], horizon: str = "Daily") -> list[BorderQuantity]:
    """Offered and allocated capacity of the ``horizon`` auctions, as border quantities.

    Only one horizon at a time: the yearly, monthly and daily auctions each offer their own slice
    of the border, so one period's figures from different horizons must not replace each other.
    """
    out: list[BorderQuantity] = []
    for r in results:
        if r.horizon != horizon:
            continue
        for kind, mw in (
            (CapacityKind.AUCTION_OFFERED, r.offered_mw),
            (CapacityKind.AUCTION_ALLOCATED, r.allocated_mw),
        ):
            out.append(
                BorderQuantity(r.source, r.target, r.delivery_start, r.delivery_end, mw, kind, "jao", horizon)
            )
    return out
