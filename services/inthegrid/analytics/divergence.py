"""How often two zones' prices are equal, and the direction and size of the spread when they are not.

On a coupled day-ahead border equal prices mean the border had spare capacity; a spread means it was
full (congested) in the direction from the cheap to the expensive zone. For a pair ``(a, b)`` the
spread is ``price_b - price_a``: positive when ``b`` is dearer (power would flow a -> b).

Prices are published in cents, so "converged" means equal to the cent: ``|spread| < 0.005``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from inthegrid.analytics.frames import aligned_pair, market_time
from inthegrid.analytics.terms import CONVERGED_EUR_MWH, Grouping

DIVERGENCE_COLUMNS = (
    "periods",
    "converged_share",
    "a_dearer_share",
    "b_dearer_share",
    "mean_spread_eur_mwh",
    "mean_abs_spread_diverged_eur_mwh",
    "max_abs_spread_eur_mwh",
)


def _group_keys(index: pd.DatetimeIndex, by: Grouping) -> list[pd.Index]:
    local = market_time(index)
    keys: dict[str, pd.Index] = {
        "year": pd.Index(local.year, name="year"),
        "month": pd.Index(local.month, name="month"),
        "hour": pd.Index(local.hour, name="hour"),
    }
    if by == "all":
        return [pd.Index(np.zeros(len(index), dtype=int), name="all")]
    if by == "month_hour":
        return [keys["month"], keys["hour"]]
    if by == "year_month":
        return [keys["year"], keys["month"]]
    return [keys[by]]


def divergence(frame: pd.DataFrame, a: str, b: str, by: Grouping = "all") -> pd.DataFrame:
    """One row per group: periods with both prices, the shares converged / a dearer / b dearer, the mean
    signed spread (b - a, all periods), the mean |spread| over diverged periods only, and the largest."""
    both = aligned_pair(frame, a, b)
    spread = both[b] - both[a]
    converged = spread.abs() < CONVERGED_EUR_MWH
    parts = pd.DataFrame(
        {
            "spread": spread.to_numpy(),
            "converged": converged.to_numpy(),
            "a_dearer": (~converged & (spread < 0)).to_numpy(),
            "b_dearer": (~converged & (spread > 0)).to_numpy(),
            "abs_diverged": spread.abs().where(~converged).to_numpy(),
            "abs_spread": spread.abs().to_numpy(),
        }
    )
    if parts.empty:
        return pd.DataFrame(columns=list(DIVERGENCE_COLUMNS))
    grouped = parts.groupby(_group_keys(pd.DatetimeIndex(both.index), by))
    out = pd.DataFrame(
        {
            "periods": grouped["spread"].size(),
            "converged_share": grouped["converged"].mean(),
            "a_dearer_share": grouped["a_dearer"].mean(),
            "b_dearer_share": grouped["b_dearer"].mean(),
            "mean_spread_eur_mwh": grouped["spread"].mean(),
            "mean_abs_spread_diverged_eur_mwh": grouped["abs_diverged"].mean(),
            "max_abs_spread_eur_mwh": grouped["abs_spread"].max(),
        }
    )
    if by == "all":
        out = out.reset_index(drop=True)
    return out


def heatmap(frame: pd.DataFrame, a: str, b: str, value: str = "converged_share") -> pd.DataFrame:
    """Month (rows 1-12) x hour of day (columns 0-23, market time) of one divergence column.

    Cells without data are NaN (a month absent from the range), so a plot shows them as gaps.
    """
    if value not in DIVERGENCE_COLUMNS:
        raise ValueError(f"value must be one of {', '.join(DIVERGENCE_COLUMNS)}")
    table = divergence(frame, a, b, "month_hour")
    grid = table[value].unstack("hour") if len(table) else pd.DataFrame()
    return grid.reindex(index=range(1, 13), columns=range(24))
