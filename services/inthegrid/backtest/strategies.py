"""Strategies a trader can run without hindsight, valued over a backtest's price table.

Per border and direction, per MW (never summed across pairs, so no capacity counts twice):

- ``transmission_rights``: hold a right for every year, month or day product at its auction price;
- ``explicit_capacity``: on explicit borders, buy daily capacity for every hour at its auction price,
  or only the hours a signal (known before the auction) expects to beat the price.

Prices come from JAO auction results where they cover a period; elsewhere the rule's capacity price
for the border is used and marked assumed. A border with neither has no P&L, only its payoff and
the break-even price. Products are market (CET) days, months and years, as JAO's are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from inthegrid.backtest.borders import border_columns, rule_borders
from inthegrid.backtest.engine import BacktestResult
from inthegrid.backtest.labels import eras_of
from inthegrid.domain.capture import LABEL_CHANGES, HopAllocation, capture_in_era
from inthegrid.domain.grid import Border
from inthegrid.domain.rights import (
    Signal,
    buy_on_signal,
    capacity_payoff,
    hold_pnl,
    previous_days_mean,
    right_payoff,
)
from inthegrid.sources.jao import AuctionPrices

MARKET_TZ = "Europe/Brussels"
PRODUCTS = {"year": "Yearly", "month": "Monthly", "day": "Daily"}


def product_codes(local: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Per product (year, month, day), the product each period falls in, as an integer: the market-time
    year, year x 12 + month - 1, and days since 1970-01-01. Integers, not labels: formatting and sorting
    date strings for every border, direction and product made the strategies most of a backtest's time."""
    year = np.asarray(local.year, dtype=np.int64)
    month = year * 12 + np.asarray(local.month, dtype=np.int64) - 1
    return {"year": year, "month": month, "day": market_days(local)}


def market_days(local: pd.DatetimeIndex) -> np.ndarray:
    """Days since 1970-01-01 of each market-time moment's date."""
    return np.asarray(local.tz_localize(None).values.astype("datetime64[D]").astype(np.int64))


def _product_hours(codes: np.ndarray, product: str) -> np.ndarray:
    """Length in hours of each product (a market-time year, month or day: DST makes some days 23 or 25
    hours and March and October one hour shorter or longer)."""

    def starts(first: np.ndarray) -> pd.DatetimeIndex:
        if product == "year":
            naive = pd.to_datetime(pd.DataFrame({"year": first, "month": 1, "day": 1}))
        elif product == "month":
            naive = pd.to_datetime(pd.DataFrame({"year": first // 12, "month": first % 12 + 1, "day": 1}))
        else:
            naive = pd.to_datetime(first, unit="D")
        return pd.DatetimeIndex(naive).tz_localize(MARKET_TZ)

    return np.asarray((starts(codes + 1) - starts(codes)).total_seconds() / 3600)


def _partial_products(products: np.ndarray, product: str, period_hours: float) -> int:
    """Products the table does not cover whole (cut by the date range, or prices missing): a right is
    held for its whole product, so their P&L is only the covered part."""
    codes, counts = np.unique(products, return_counts=True)
    return int((counts * period_hours < _product_hours(codes, product)).sum())


def _r(value: float) -> float:
    return round(float(value), 2)


def _prices(
    auctions: AuctionPrices, border: Border, direction: tuple[str, str], horizon: str, index: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """(price per period, True where it came from an auction); the rule's price fills the rest."""
    jao = auctions.per_period(direction[0], direction[1], horizon, index)
    known = ~np.isnan(jao)
    assumed = border.capacity_price_eur_mwh if border.capacity_price_eur_mwh > 0 else np.nan
    return np.where(known, jao, assumed), known


def _source(known: np.ndarray, price: np.ndarray) -> str:
    if not np.isfinite(price).any():
        return "none"
    if known.all():
        return "jao"
    return "jao+assumed" if known.any() else "assumed"


def _right(
    payoff: np.ndarray, price: np.ndarray, known: np.ndarray, products: np.ndarray, hours: float
) -> dict[str, Any]:
    total = float(payoff.sum()) * hours
    out: dict[str, Any] = {
        "products": len(np.unique(products)),
        "periods": len(payoff),
        "payoff_eur_per_mw": _r(total),
        "break_even_price_eur_mwh": round(total / (len(payoff) * hours), 4) if len(payoff) else None,
        "price": _source(known, price),
        "assumed_periods": int((~known & np.isfinite(price)).sum()),
        "cost_eur_per_mw": None,
        "pnl_eur_per_mw": None,
        "winning_products": None,
    }
    if np.isfinite(price).all() and len(payoff):
        pnl = hold_pnl(payoff, price, hours)
        per_product = pd.Series((payoff - price) * hours).groupby(products).sum()
        out.update(
            cost_eur_per_mw=_r(pnl.cost_eur),
            pnl_eur_per_mw=_r(pnl.pnl_eur),
            winning_products=int((per_product > 0).sum()),
        )
    return out


def _explicit_mask(index: pd.DatetimeIndex, border: Border) -> np.ndarray:
    eras = eras_of(index)
    mask = np.zeros(len(index), dtype=bool)
    for era in range(len(LABEL_CHANGES) + 1):
        (hop,) = capture_in_era(border.key, era).hops
        if hop.allocation is HopAllocation.EXPLICIT:
            mask |= eras == era
    return mask


# Expected payoff per MW and hour of capacity from a to b for each delivery start of ``index``, made
# before the auction (e.g. a spread forecast: inthegrid.forecast.signal.forecast_payoff_signal).
PeriodSignal = Callable[[str, str, pd.DatetimeIndex], np.ndarray]


def _signal_expectations(payoff: np.ndarray, local: pd.DatetimeIndex, signal: Signal) -> np.ndarray:
    """Per period, what the signal expected using only earlier days (the auction is on the day before)."""
    days = market_days(local)
    slots = np.asarray(local.hour * 60 + local.minute)
    day_codes, day_idx = np.unique(days, return_inverse=True)
    slot_codes, slot_idx = np.unique(slots, return_inverse=True)
    matrix = np.full((len(day_codes), len(slot_codes)), np.nan)
    matrix[day_idx, slot_idx] = payoff
    expected_by_day = np.vstack([signal(matrix[:d]) for d in range(len(day_codes))])
    return expected_by_day[day_idx, slot_idx]


def _explicit(
    result: BacktestResult,
    border: Border,
    direction: tuple[str, str],
    index: pd.DatetimeIndex,
    p_from: np.ndarray,
    p_to: np.ndarray,
    auctions: AuctionPrices,
    signal: Signal,
    forecast: PeriodSignal | None = None,
) -> list[dict[str, Any]]:
    hours = result.table.period_hours
    route = result.rule.grid.direct_route(*direction)
    payoff = capacity_payoff(route, p_from, p_to)
    price, known = _prices(auctions, border, direction, "Daily", index)
    head = {
        "border": f"{border.key[0]}/{border.key[1]}",
        "direction": f"{direction[0]}->{direction[1]}",
        "price": _source(known, price),
        "assumed_periods": int((~known & np.isfinite(price)).sum()),
    }
    if not np.isfinite(price).all():
        return [{**head, "strategy": "no capacity price known", "periods": len(payoff)}]
    every = hold_pnl(payoff, price, hours)
    expected = _signal_expectations(payoff, index.tz_convert(MARKET_TZ), signal)
    chosen, _ = buy_on_signal(payoff, price, expected, hours)
    outcomes = [("every_period", every), ("on_signal", chosen)]
    if forecast is not None:
        # The same decision, with the forecast's expected payoff in place of the recent-days mean.
        outcomes.append(("on_forecast", buy_on_signal(payoff, price, forecast(*direction, index), hours)[0]))
    return [
        {**head, "strategy": strategy, "periods": len(payoff), "periods_bought": pnl.periods}
        | {"payoff_eur_per_mw": _r(pnl.payoff_eur), "cost_eur_per_mw": _r(pnl.cost_eur)}
        | {"pnl_eur_per_mw": _r(pnl.pnl_eur)}
        for strategy, pnl in outcomes
    ]


def strategies_summary(
    result: BacktestResult,
    auctions: AuctionPrices | None = None,
    signal: Signal | None = None,
    forecast: PeriodSignal | None = None,
) -> dict[str, Any]:
    auctions = auctions or AuctionPrices()
    signal = signal or previous_days_mean(7)
    hours = result.table.period_hours
    rights: list[dict[str, Any]] = []
    explicit: list[dict[str, Any]] = []
    for border in rule_borders(result):
        rows, pa, pb = border_columns(result, border)
        index = result.index[rows]
        codes = product_codes(index.tz_convert(MARKET_TZ))
        mask = _explicit_mask(index, border)
        # The same products in both directions: their coverage is counted once per border.
        partial = {product: _partial_products(codes[product], product, hours) for product in PRODUCTS}
        a, b = border.key
        for direction, p_from, p_to in (((a, b), pa, pb), ((b, a), pb, pa)):
            payoff = right_payoff(p_from, p_to)
            for product, horizon in PRODUCTS.items():
                price, known = _prices(auctions, border, direction, horizon, index)
                products = codes[product]
                rights.append(
                    {"border": f"{a}/{b}", "direction": f"{direction[0]}->{direction[1]}", "product": product}
                    | _right(payoff, price, known, products, hours)
                    | {"partial_products": partial[product]}
                )
            if mask.any():
                explicit += _explicit(
                    result,
                    border,
                    direction,
                    index[mask],
                    p_from[mask],
                    p_to[mask],
                    auctions,
                    signal,
                    forecast,
                )
    return {
        "basis": "per MW of capacity, per border and direction; decided before prices were known",
        "transmission_rights": rights,
        "explicit_capacity": explicit,
    }
