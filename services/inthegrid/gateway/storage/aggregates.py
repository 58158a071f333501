"""Long-range history: hourly / daily prices per zone and daily figures per border.

On TimescaleDB the continuous aggregates of migration 0010 answer (``prices_hourly``,
``prices_daily``, ``border_daily``; real-time, so unmaterialized recent periods count too). On
plain PostgreSQL the same SQL aggregates the raw tables: same buckets (UTC hours / days), same
columns, same numbers; only slower. ``schema_info('aggregates')`` says which path applies.
"""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta
from typing import Any, Literal

from inthegrid.gateway.rest.history_schemas import BorderDayPublic, PriceBucketPublic, StoredPricePublic
from inthegrid.gateway.rest.shaping import shaped
from inthegrid.gateway.rest.views import iso_z
from inthegrid.gateway.storage.database import Database

Bucket = Literal["hour", "day"]
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_PRICE_VIEW = {"hour": "prices_hourly", "day": "prices_daily"}
# Buckets start at UTC midnight / full hours, as time_bucket's do.
_ORIGIN = "timestamptz '2000-01-01 00:00:00+00'"
_PRICE_COLUMNS = (
    "avg(price_eur_mwh) AS avg_price, min(price_eur_mwh) AS min_price,"
    " max(price_eur_mwh) AS max_price, count(*) AS periods"
)
_BORDER_COLUMNS = (
    "count(*) AS periods, avg(spread) AS avg_spread, max(spread) AS max_spread,"
    " max(net_eur_mwh) AS max_net, sum(profit_eur) AS profit_eur,"
    " sum(spread * capacity_mw * period_hours) FILTER (WHERE coupled) AS congestion_value_eur"
)


# Per database (a test process talks to several): True once continuous aggregates were seen; they
# are never dropped, so a positive answer is kept, a negative one asked again (migrations may follow).
_CONTINUOUS: weakref.WeakKeyDictionary[Database, bool] = weakref.WeakKeyDictionary()


async def use_continuous(db: Database) -> bool:
    if not _CONTINUOUS.get(db, False):
        rows = await db.fetch("SELECT value FROM schema_info WHERE key = 'aggregates'")
        _CONTINUOUS[db] = bool(rows) and rows[0]["value"] == "continuous"
    return _CONTINUOUS[db]


def _f(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _range(start: datetime | None, end: datetime | None, args: list[Any], column: str) -> list[str]:
    conditions = []
    if start is not None:
        args.append(start)
        conditions.append(f"{column} >= ${len(args)}")
    if end is not None:
        args.append(end)
        conditions.append(f"{column} < ${len(args)}")
    return conditions


async def price_buckets(
    db: Database,
    zone: str,
    *,
    bucket: Bucket,
    market: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    continuous: bool | None = None,
) -> list[dict[str, Any]]:
    """A zone's prices per UTC hour or day whose bucket starts in [start, end), newest first."""
    if continuous is None:
        continuous = await use_continuous(db)
    args: list[Any] = [zone, market]
    if continuous:
        conditions = ["zone = $1", "market = $2", *_range(start, end, args, "bucket")]
        source = f"{_PRICE_VIEW[bucket]} WHERE {' AND '.join(conditions)}"
        select = "bucket, avg_price, min_price, max_price, periods"
    else:
        # Widen the raw range by one bucket so edge buckets are whole, then keep those that start inside.
        inner_args: list[Any] = [zone, market]
        widened = _range(start - _STEP[bucket] if start else None, end, inner_args, "delivery_start")
        args = inner_args
        outer = _range(start, end, args, "bucket")
        step = "1 hour" if bucket == "hour" else "1 day"
        source = (
            f"(SELECT date_bin(interval '{step}', delivery_start, {_ORIGIN}) AS bucket, {_PRICE_COLUMNS}"
            f" FROM prices WHERE {' AND '.join(['zone = $1', 'market = $2', *widened])}"
            " GROUP BY 1) AS raw" + (f" WHERE {' AND '.join(outer)}" if outer else "")
        )
        select = "bucket, avg_price, min_price, max_price, periods"
    args.append(limit)
    rows = await db.fetch(f"SELECT {select} FROM {source} ORDER BY bucket DESC LIMIT ${len(args)}", *args)
    return [
        shaped(
            PriceBucketPublic,
            {
                "zone": zone,
                "bucket_start": iso_z(r["bucket"]),
                "bucket_end": iso_z(r["bucket"] + _STEP[bucket]),
                "avg_price": _f(r["avg_price"]),
                "min_price": _f(r["min_price"]),
                "max_price": _f(r["max_price"]),
                "periods": int(r["periods"]),
            },
        )
        for r in rows
    ]


async def border_days(
    db: Database,
    pair: tuple[str, str],
    *,
    market: str,
    rule: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    continuous: bool | None = None,
) -> list[dict[str, Any]]:
    """Per UTC day: both zones' mean prices and the mean spread (b − a), from prices; and, where a
    rule valued the pair, its periods, spreads, best net, profit and congestion value."""
    if continuous is None:
        continuous = await use_continuous(db)
    a, b = pair
    prices_a = {
        r["bucket_start"]: r
        for r in await price_buckets(
            db, a, bucket="day", market=market, start=start, end=end, limit=limit, continuous=continuous
        )
    }
    prices_b = {
        r["bucket_start"]: r
        for r in await price_buckets(
            db, b, bucket="day", market=market, start=start, end=end, limit=limit, continuous=continuous
        )
    }
    args: list[Any] = [a, b, market]
    conditions = ["pair_a = $1", "pair_b = $2", "market = $3"]
    if rule is not None:
        args.append(rule)
        conditions.append(f"rule = ${len(args)}")
    if continuous:
        conditions += _range(start, end, args, "bucket")
        sql = (
            "SELECT bucket, sum(periods) AS periods, sum(avg_spread * periods) / sum(periods) AS avg_spread,"
            " max(max_spread) AS max_spread, max(max_net) AS max_net, sum(profit_eur) AS profit_eur,"
            " sum(congestion_value_eur) AS congestion_value_eur"
            f" FROM border_daily WHERE {' AND '.join(conditions)} GROUP BY bucket"
        )
    else:
        conditions += _range(start, end, args, "delivery_start")
        sql = (
            f"SELECT date_bin(interval '1 day', delivery_start, {_ORIGIN}) AS bucket, {_BORDER_COLUMNS}"
            f" FROM opportunities WHERE {' AND '.join(conditions)} GROUP BY 1"
        )
    valued = {str(iso_z(r["bucket"])): r for r in await db.fetch(sql, *args)}
    days = sorted(set(prices_a) | set(prices_b) | set(valued), reverse=True)[:limit]
    out = []
    for day in days:
        pa, pb, v = prices_a.get(day), prices_b.get(day), valued.get(day)
        mean_a = pa["avg_price"] if pa else None
        mean_b = pb["avg_price"] if pb else None
        out.append(
            shaped(
                BorderDayPublic,
                {
                    "day": day,
                    "pair": [a, b],
                    "avg_price_a": mean_a,
                    "avg_price_b": mean_b,
                    "avg_price_spread": None
                    if mean_a is None or mean_b is None
                    else round(mean_b - mean_a, 4),
                    "valued_periods": int(v["periods"]) if v else 0,
                    "avg_spread": _f(v["avg_spread"]) if v else None,
                    "max_spread": _f(v["max_spread"]) if v else None,
                    "max_net": _f(v["max_net"]) if v else None,
                    "profit_eur": _f(v["profit_eur"]) if v else None,
                    "congestion_value_eur": _f(v["congestion_value_eur"]) if v else None,
                },
            )
        )
    return out


async def latest_stored_prices(db: Database, *, market: str) -> list[dict[str, Any]]:
    """The newest stored period per zone. Written as DISTINCT ON over the (market, zone,
    delivery_start DESC) index so TimescaleDB's SkipScan jumps from zone to zone instead of reading
    every row; plain PostgreSQL answers the same, by scanning. No tie-break column after
    delivery_start: one would stop SkipScan (two sources for the same newest period: either wins)."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (zone) zone, delivery_start, resolution_minutes, price_eur_mwh, source"
        " FROM prices WHERE market = $1 ORDER BY zone, delivery_start DESC",
        market,
    )
    return [
        shaped(
            StoredPricePublic,
            {
                "zone": r["zone"],
                "delivery_start": iso_z(r["delivery_start"]),
                "delivery_end": iso_z(r["delivery_start"] + timedelta(minutes=r["resolution_minutes"])),
                "price": _f(r["price_eur_mwh"]),
                "source": r["source"],
            },
        )
        for r in rows
    ]
