"""Stored day-ahead prices as a price frame (zones as columns) for the analytics endpoints.

One price per zone and delivery period: where several sources recorded one, the latest published
wins. One period length per frame: where the range holds both, the one with more rows is used (15-
and 60-minute rows must not be mixed in one frame; their shares would be counted twice).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import pandas as pd

from inthegrid.domain.prices import Resolution
from inthegrid.gateway.storage.database import Database

MARKET = "day_ahead"


async def stored_resolution(
    db: Database, zones: Collection[str] | None, start: datetime, end: datetime
) -> Resolution | None:
    """The period length with the most stored day-ahead rows in the range (None: no rows)."""
    rows = await db.fetch(
        "SELECT resolution_minutes, count(*) AS n FROM prices"
        " WHERE market = $1 AND delivery_start >= $2 AND delivery_start < $3"
        " AND ($4::text[] IS NULL OR zone = ANY($4::text[]))"
        " GROUP BY resolution_minutes ORDER BY n DESC, resolution_minutes LIMIT 1",
        MARKET,
        start,
        end,
        sorted(zones) if zones else None,
    )
    return Resolution(rows[0]["resolution_minutes"]) if rows else None


async def price_frame(
    db: Database,
    zones: Collection[str] | None,
    start: datetime,
    end: datetime,
    resolution: Resolution | None = None,
) -> tuple[pd.DataFrame, Resolution | None]:
    """Prices in [start, end) as a frame (UTC index of delivery starts, one float column per zone)."""
    resolution = resolution or await stored_resolution(db, zones, start, end)
    if resolution is None:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC")), None
    rows = await db.fetch(
        "SELECT DISTINCT ON (zone, delivery_start) zone, delivery_start, price_eur_mwh::float8 AS price"
        " FROM prices"
        " WHERE market = $1 AND resolution_minutes = $2 AND delivery_start >= $3 AND delivery_start < $4"
        " AND ($5::text[] IS NULL OR zone = ANY($5::text[]))"
        " ORDER BY zone, delivery_start, published_at DESC, source",
        MARKET,
        int(resolution),
        start,
        end,
        sorted(zones) if zones else None,
    )
    if not rows:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC")), resolution
    long = pd.DataFrame(rows, columns=["zone", "delivery_start", "price"])
    wide = long.pivot(index="delivery_start", columns="zone", values="price")
    wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index, utc=True), name="timestamp_utc")
    wide.columns.name = None
    return wide.sort_index().astype(float), resolution
