"""The forecast as a trading signal: the expected spread of a border per delivery period, known before
the day-ahead auction. Meant for strategies on explicit borders (capacity bought before prices are
known), e.g. "buy DE-LU -> CH capacity for hours whose P50 spread exceeds the capacity price".

``forecast_periods`` is vectorised for backtests: it forecasts every period of a table at once, each
day from the days before it only (``features.border_features``), so it can run on a table that
already holds the outcomes.
"""

from __future__ import annotations

from datetime import date, datetime

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
