"""Read queries the gateway serves (parameterised SQL only; rows come back as plain dicts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from inthegrid.domain.zones import ZONE_CODES, pair_key

# One index probe per zone (prices_market_zone_delivery_idx) instead of scanning the market's
# history, which DISTINCT ON would do; the zone list is bounded and known.
_LATEST_PRICES = """
SELECT p.*
FROM unnest($2::text[]) AS z(zone)
CROSS JOIN LATERAL (
    SELECT zone, market, resolution_minutes, delivery_start, price_eur_mwh, source, published_at, received_at
    FROM prices
    WHERE market = $1 AND zone = z.zone AND ($3::timestamptz IS NULL OR delivery_start <= $3)
    ORDER BY delivery_start DESC, published_at DESC
    LIMIT 1
) AS p
ORDER BY p.zone
"""

_PRICE_HISTORY = """
SELECT zone, market, resolution_minutes, delivery_start, price_eur_mwh, source, published_at, received_at
FROM prices
WHERE zone = $1 AND market = $2
  AND ($3::timestamptz IS NULL OR delivery_start >= $3)
  AND ($4::timestamptz IS NULL OR delivery_start < $4)
ORDER BY delivery_start DESC, source
LIMIT $5
"""

_OPPORTUNITY_FILTER = """
WHERE ($1::timestamptz IS NULL OR delivery_start >= $1)
  AND ($2::timestamptz IS NULL OR delivery_start < $2)
  AND ($3::text IS NULL OR (pair_a = $3 AND pair_b = $4))
  AND ($5::text IS NULL OR rule = $5)
  AND ($6::text IS NULL OR status = $6)
"""

_OPPORTUNITY_HISTORY = f"""
SELECT rule, pair_a, pair_b, market, delivery_start, status, revision, buy_zone, sell_zone, buy_price,
       sell_price, spread, net_eur_mwh, cost_eur_mwh, loss_factor, path, capacity_mw, profit_eur,
       period_hours, coupled, resolution_minutes, first_detected_at, detected_at, strategy
FROM opportunities
{_OPPORTUNITY_FILTER}
ORDER BY delivery_start DESC, rule, pair_a, pair_b
LIMIT $7 OFFSET $8
"""

_OPPORTUNITY_COUNT = f"SELECT count(*) FROM opportunities {_OPPORTUNITY_FILTER}"


def _dicts(records: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(r) for r in records]


async def latest_prices(
    pool: asyncpg.Pool, market: str, *, at: datetime | None = None, zones: Sequence[str] = ZONE_CODES
) -> list[dict[str, Any]]:
    """Per zone, the price of the newest delivery period (at or before ``at`` when given)."""
    return _dicts(await pool.fetch(_LATEST_PRICES, market, list(zones), at))


async def price_history(
    pool: asyncpg.Pool,
    zone: str,
    market: str,
    limit: int = 500,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """A zone's prices, newest delivery first, delivery_start in [start, end)."""
    return _dicts(await pool.fetch(_PRICE_HISTORY, zone, market, start, end, limit))


def _opportunity_args(
    start: datetime | None,
    end: datetime | None,
    pair: tuple[str, str] | None,
    rule: str | None,
    status: str | None,
) -> list[Any]:
    a, b = pair_key(*pair) if pair is not None else (None, None)
    return [start, end, a, b, rule, status]


async def opportunity_history(
    pool: asyncpg.Pool,
    start: datetime | None = None,
    end: datetime | None = None,
    pair: tuple[str, str] | None = None,
    rule: str | None = None,
    limit: int = 100,
    offset: int = 0,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Opportunities (newest revision each), newest delivery first, delivery_start in [start, end)."""
    args = _opportunity_args(start, end, pair, rule, status)
    return _dicts(await pool.fetch(_OPPORTUNITY_HISTORY, *args, limit, offset))


async def count_opportunities(
    pool: asyncpg.Pool,
    start: datetime | None = None,
    end: datetime | None = None,
    pair: tuple[str, str] | None = None,
    rule: str | None = None,
    status: str | None = None,
) -> int:
    """How many rows ``opportunity_history`` would page through with the same filters."""
    return int(await pool.fetchval(_OPPORTUNITY_COUNT, *_opportunity_args(start, end, pair, rule, status)))
