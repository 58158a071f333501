"""The analytics' fixed terms, without pandas: the gateway describes its analytics endpoints with
them at start and imports pandas (about 70 MB resident) only when the first analysis is asked for."""

from __future__ import annotations

from typing import Literal

MARKET_TZ = "Europe/Brussels"

# Two zones' prices closer than this (EUR/MWh) count as converged (coupled, no congestion).
CONVERGED_EUR_MWH = 0.005

Grouping = Literal["all", "year", "month", "hour", "month_hour", "year_month"]
GROUPINGS: tuple[Grouping, ...] = ("all", "year", "month", "hour", "month_hour", "year_month")

CONGESTION_NOTE = (
    "congestion value: on coupled day-ahead borders a spread is congestion income collected by the grid "
    "operators, not a trader's profit; per MW of capacity, indicative income at the border's indicative "
    "capacity"
)
