"""The correlation of zone prices (Pearson, pairwise over periods where both have a price)."""

from __future__ import annotations

import pandas as pd

from inthegrid.analytics.frames import market_time

# Fewer common periods than this give a correlation too noisy to show (a week of hours).
MIN_PERIODS = 168


def correlation_matrix(frame: pd.DataFrame, min_periods: int = MIN_PERIODS) -> pd.DataFrame:
    """Zones x zones; NaN where two zones share fewer than ``min_periods`` priced periods."""
    return frame.corr(method="pearson", min_periods=min_periods)


def correlation_by_year(frame: pd.DataFrame, min_periods: int = MIN_PERIODS) -> pd.DataFrame:
    """Long table (year, zone_a, zone_b, correlation, periods) for each unordered pair and year."""
    years = market_time(pd.DatetimeIndex(frame.index)).year
    rows = []
    zones = list(frame.columns)
    for year, part in frame.groupby(years):
        matrix = correlation_matrix(part, min_periods)
        present = part.notna()
        for i, a in enumerate(zones):
            for b in zones[i + 1 :]:
                rows.append(
                    {
                        "year": int(year),
                        "zone_a": a,
                        "zone_b": b,
                        "correlation": matrix.loc[a, b],
                        "periods": int((present[a] & present[b]).sum()),
                    }
                )
    return pd.DataFrame(rows, columns=["year", "zone_a", "zone_b", "correlation", "periods"])
