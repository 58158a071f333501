"""Features for the spread of a border in each hour of delivery day D, from days <= D-1 only.

Everything is laid out as days (rows, market-time dates) x hours (columns 0-23, market time): the
spread of hour h on D-1 is one row up. Day-light saving days are folded onto 24 hours (the repeated
autumn hour is averaged, the missing spring hour stays NaN), so "one row up" is always "the day
before". No feature of row D reads row D or later: ``shift(k)`` with k >= 1 only.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from inthegrid.analytics.frames import market_time
from inthegrid.analytics.terms import CONVERGED_EUR_MWH

HOURS = list(range(24))
FEATURES = (
    "hour",
    "weekday",
    "month",
    "weekend",
    "spread_d1",
    "spread_d2",
    "spread_d7",
    "spread_week_mean",
    "spread_d1_mean",
    "spread_d1_std",
    "spread_d1_last",
    "converged_d1",
    "converged_week",
    "price_a_d1",
    "price_b_d1",
    "price_a_d1_mean",
    "price_b_d1_mean",
)


def day_by_hour(series: pd.Series) -> pd.DataFrame:
    """A UTC-indexed series as market-time days x hours 0-23, every calendar day present."""
    local = market_time(pd.DatetimeIndex(series.index))
    frame = pd.DataFrame({"day": local.normalize().tz_localize(None), "hour": local.hour, "v": series.values})
    grid = frame.pivot_table(index="day", columns="hour", values="v", aggfunc="mean", dropna=False)
    if grid.empty:
        return pd.DataFrame(columns=HOURS, dtype=float)
    days = pd.date_range(grid.index.min(), grid.index.max(), freq="D")
    return grid.reindex(index=days, columns=HOURS).astype(float)


def _stack(grid: pd.DataFrame, name: str) -> pd.Series:
    """days x hours -> one value per (day, hour), the layout of the feature rows."""
    out = grid.stack(future_stack=True)
    out.index.names = ["day", "hour"]
    return out.rename(name)


def _per_hour(daily: pd.Series, grid: pd.DataFrame) -> pd.DataFrame:
    """A value per day repeated for each hour of that day."""
    return pd.DataFrame(np.repeat(daily.to_numpy()[:, None], 24, axis=1), index=grid.index, columns=HOURS)


def border_features(frame: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """One row per (day, hour): the FEATURES known before gate closure and the target ``spread``
    (price of b minus price of a in that hour of that day; NaN where a price is missing)."""
    spread = day_by_hour(frame[b] - frame[a])
    price_a = day_by_hour(frame[a]).reindex(spread.index)
    price_b = day_by_hour(frame[b]).reindex(spread.index)
    converged = (spread.abs() < CONVERGED_EUR_MWH).where(spread.notna())
    previous = spread.shift(1)  # row D now holds D-1: the newest day known at gate closure
    week = [spread.shift(k) for k in range(1, 8)]
    last_hour = previous.ffill(axis=1).iloc[:, -1]  # the last priced hour of D-1
    columns = {
        "spread_d1": previous,
        "spread_d2": spread.shift(2),
        "spread_d7": spread.shift(7),
        "spread_week_mean": sum(week) / 7,  # NaN if any of the seven is missing: "not known"
        "spread_d1_mean": _per_hour(previous.mean(axis=1), spread),
        "spread_d1_std": _per_hour(previous.std(axis=1), spread),
        "spread_d1_last": _per_hour(last_hour, spread),
        "converged_d1": _per_hour(converged.shift(1).mean(axis=1), spread),
        "converged_week": _per_hour(converged.shift(1).rolling(7, min_periods=1).mean().mean(axis=1), spread),
        "price_a_d1": price_a.shift(1),
        "price_b_d1": price_b.shift(1),
        "price_a_d1_mean": _per_hour(price_a.shift(1).mean(axis=1), spread),
        "price_b_d1_mean": _per_hour(price_b.shift(1).mean(axis=1), spread),
    }
    rows = pd.concat([_stack(grid, name) for name, grid in columns.items()], axis=1)
    days = rows.index.get_level_values("day")
    rows["hour"] = rows.index.get_level_values("hour")
    rows["weekday"] = days.weekday
    rows["month"] = days.month
    rows["weekend"] = (days.weekday >= 5).astype(int)
    rows["spread"] = _stack(spread, "spread")
    return rows[[*FEATURES, "spread"]]


def features_for_day(frame: pd.DataFrame, a: str, b: str, day: date) -> pd.DataFrame:
    """The 24 feature rows of delivery day ``day``, from the prices of days before it only.

    Prices of ``day`` and later are cut off first, so this is safe to call on a table that already
    holds the outcome (a backtest): what the forecast sees is what was public before the auction.
    """
    start = pd.Timestamp(day).tz_localize(market_time(pd.DatetimeIndex([], tz="UTC")).tz)
    known = frame.loc[frame.index < start.tz_convert("UTC"), [a, b]]
    horizon = pd.DataFrame(
        np.nan, index=pd.date_range(start, periods=24, freq="h").tz_convert("UTC"), columns=[a, b]
    )  # placeholder rows so day D exists in the grid; they carry no prices
    rows = border_features(pd.concat([known, horizon]), a, b)
    return rows.xs(pd.Timestamp(day), level="day")[list(FEATURES)]
