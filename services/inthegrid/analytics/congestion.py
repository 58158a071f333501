"""Congestion value per border and direction.

On a coupled day-ahead border a price spread means the border is full; spread x flow is *congestion
income*, collected by the grid operators (and paid out to holders of transmission rights). It is not
a trader's profit and this module never calls it one. Per MW of capacity, the value of a direction
``from -> to`` is the sum over the periods where ``to`` was dearer of ``(p_to - p_from) x hours``.

``indicative_income_eur`` multiplies that by the border's indicative capacity (domain.grid); real
flows and capacities change daily (flow-based in Core since 2022-06-09), so it is an order of
magnitude, not an accounting figure.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from inthegrid.analytics.frames import aligned_pair, market_time
from inthegrid.analytics.terms import CONVERGED_EUR_MWH
from inthegrid.domain.grid import Border

CONGESTION_COLUMNS = (
    "border",
    "from_zone",
    "to_zone",
    "allocation",
    "year",
    "congested_hours",
    "mean_spread_eur_mwh",
    "congestion_value_eur_per_mw",
    "capacity_mw",
    "indicative_income_eur",
)


def congestion_value(
    frame: pd.DataFrame, borders: Iterable[Border], period_hours: float, *, by_year: bool = False
) -> pd.DataFrame:
    """One row per border, direction (and year when ``by_year``), in both directions even when zero."""
    rows = []
    for border in borders:
        both = aligned_pair(frame, border.a, border.b)
        years = market_time(pd.DatetimeIndex(both.index)).year if by_year else None
        for src, dst in ((border.a, border.b), (border.b, border.a)):
            spread = both[dst] - both[src]
            congested = spread >= CONVERGED_EUR_MWH
            groups = spread.groupby(years) if years is not None else [(None, spread)]
            for year, part in groups:
                mask = congested.loc[part.index]
                value = float(part[mask].sum()) * period_hours
                rows.append(
                    {
                        "border": f"{border.a}/{border.b}",
                        "from_zone": src,
                        "to_zone": dst,
                        "allocation": border.allocation.value,
                        "year": None if year is None else int(year),
                        "congested_hours": float(mask.sum()) * period_hours,
                        "mean_spread_eur_mwh": float(part[mask].mean()) if mask.any() else 0.0,
                        "congestion_value_eur_per_mw": value,
                        "capacity_mw": border.capacity_mw,
                        "indicative_income_eur": value * border.capacity_mw,
                    }
                )
    out = pd.DataFrame(rows, columns=list(CONGESTION_COLUMNS))
    return out if by_year else out.drop(columns="year")
