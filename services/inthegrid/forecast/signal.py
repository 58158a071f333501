"""The forecast as a trading signal: the expected spread of a border per delivery period, known before
the day-ahead auction. Meant for strategies on explicit borders (capacity bought before prices are
known), e.g. "buy DE-LU -> CH capacity for hours whose P50 spread exceeds the capacity price".

``forecast_periods`` is vectorised for backtests: it forecasts every period of a table at once, each
day from the days before it only (``features.border_features``), so it can run on a table that
already holds the outcomes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd

from inthegrid.analytics.frames import market_time
from inthegrid.domain.zones import zone_code
from inthegrid.forecast.features import border_features
from inthegrid.forecast.model import SpreadForecaster


def _oriented(forecaster: SpreadForecaster, a: str, b: str) -> tuple[tuple[str, str], bool]:
    """The model's border for (a, b) and whether its spread (second minus first) must be flipped."""
    a, b = zone_code(a), zone_code(b)
    if (a, b) in forecaster.models:
        return (a, b), False
    return (b, a), True


def _flip(quantiles: pd.DataFrame) -> pd.DataFrame:
    """The spread of (b, a) is minus that of (a, b): P10 becomes -P90 and so on."""
    return pd.DataFrame(
        {"p10": -quantiles["p90"], "p50": -quantiles["p50"], "p90": -quantiles["p10"]}, index=quantiles.index
    )


def forecast_periods(
    forecaster: SpreadForecaster, frame: pd.DataFrame, a: str, b: str, index: pd.DatetimeIndex | None = None
) -> pd.DataFrame:
    """P10/P50/P90 of ``price_b - price_a`` (EUR/MWh) for each UTC delivery start in ``index`` (default:
    the frame's). A 15-minute period gets its hour's forecast; periods without features get NaN."""
    border, flipped = _oriented(forecaster, a, b)
    rows = border_features(frame, *border)
    quantiles = forecaster.predict_rows(border, rows)
    if flipped:
        quantiles = _flip(quantiles)
    index = pd.DatetimeIndex(frame.index if index is None else index)
    local = market_time(index)
    keys = pd.MultiIndex.from_arrays([local.normalize().tz_localize(None), local.hour], names=["day", "hour"])
    out = quantiles.reindex(keys)
    out.index = index
    return out


class SpreadSignal:
    """Expected spreads from a trained forecaster and the price history known so far."""

    def __init__(self, forecaster: SpreadForecaster, history: pd.DataFrame) -> None:
        self.forecaster = forecaster
        self.history = history

    def day(self, a: str, b: str, day: date) -> pd.DataFrame:
        """The 24 market-time hours of ``day``: P10/P50/P90 of ``price_b - price_a``."""
        border, flipped = _oriented(self.forecaster, a, b)
        quantiles = self.forecaster.predict_day(self.history, border, day)
        return _flip(quantiles) if flipped else quantiles

    def expected_spread(self, a: str, b: str, delivery_start: datetime) -> float:
        """P50 of ``price_b - price_a`` for the hour holding ``delivery_start`` (aware datetime)."""
        local = pd.Timestamp(delivery_start).tz_convert(market_time(pd.DatetimeIndex([], tz="UTC")).tz)
        return float(self.day(a, b, local.date()).loc[local.hour, "p50"])


def expected_payout(quantiles: pd.DataFrame) -> pd.Series:
    """E[max(spread, 0)] per period from P10/P50/P90 (Swanson's 30/40/30 weights for three quantiles).

    What a unit of capacity from a to b pays is the spread when positive, so the decision "buy at
    price c" should compare c with this expectation, not with the median: with a spread that is
    often zero and sometimes large, the P50 is 0 while the expected payout is not.
    """
    clipped = quantiles[["p10", "p50", "p90"]].clip(lower=0.0)
    return 0.3 * clipped["p10"] + 0.4 * clipped["p50"] + 0.3 * clipped["p90"]


def capacity_pnl(
    spread: pd.Series, buy: pd.Series, cost_eur_mwh: float, period_hours: float = 1.0
) -> dict[str, float]:
    """What holding 1 MW of explicit capacity from a to b would have earned in the periods ``buy`` is
    True: the right pays the realised spread when positive (it is not used otherwise), minus the
    capacity price paid for every period bought. ``spread`` is ``price_b - price_a``; NaN periods are
    not bought (no price, no trade)."""
    known = spread.notna() & buy.fillna(False).astype(bool)
    payout = spread[known].clip(lower=0.0)
    bought = float(known.sum()) * period_hours
    income = float(payout.sum()) * period_hours
    return {
        "hours_bought": bought,
        "income_eur": income,
        "cost_eur": bought * cost_eur_mwh,
        "pnl_eur": income - bought * cost_eur_mwh,
    }


def forecast_payoff_signal(
    forecaster: SpreadForecaster, frame: pd.DataFrame
) -> Callable[[str, str, pd.DatetimeIndex], np.ndarray]:
    """A backtest strategy's signal (``backtest.strategies.PeriodSignal``): for capacity from ``a`` to
    ``b``, the expected payout E[max(p_b - p_a, 0)] of each period of ``index``, each day forecast
    from the days before it only (``forecast_periods``), so it can run on the backtest's own table."""

    def signal(a: str, b: str, index: pd.DatetimeIndex) -> np.ndarray:
        return expected_payout(forecast_periods(forecaster, frame, a, b, index)).to_numpy(dtype=float)

    return signal
