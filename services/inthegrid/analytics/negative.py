"""Hours with negative prices per zone and year (market time), the figure exchanges publish."""

from __future__ import annotations

import pandas as pd

from inthegrid.analytics.frames import market_time


def negative_hours(frame: pd.DataFrame, period_hours: float) -> pd.DataFrame:
    """Rows = year (market time), columns = zones: hours (periods x period length) with a price < 0.

    A zone without any price in a year shows NaN, not 0: no data is not "never negative".
    """
    years = pd.Index(market_time(pd.DatetimeIndex(frame.index)).year, name="year")
    negative = (frame < 0).groupby(years).sum() * period_hours
    has_data = frame.notna().groupby(years).any()
    return negative.where(has_data)
