"""History queries (PostgreSQL) and their rows as API items; filters become SQL parameters only."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from inthegrid.domain.capture import capture_of
from inthegrid.domain.economics import PairValue
from inthegrid.domain.opportunities import opportunity_id
from inthegrid.domain.prices import Resolution
from inthegrid.domain.zones import ZONES
from inthegrid.gateway.rest.schemas import OpportunityPublic, PricePublic
from inthegrid.gateway.rest.shaping import shaped
from inthegrid.gateway.rest.views import empty_valuation_fields, iso_z, market_pair, valuation_fields
from inthegrid.gateway.storage.database import Database


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int = 0


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, Decimal | int | float) else value


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


async def price_history(
    db: Database, zone: str, *, market: str | None, start: datetime | None, end: datetime | None, page: Page
) -> list[dict[str, Any]]:
    """A zone's prices, newest delivery period first ([start, end) on delivery start)."""
    conditions, args = ["zone = $1"], [zone]
    for sql, value in (
        ("market = ${}", market),
        ("delivery_start >= ${}", start),
        ("delivery_start < ${}", end),
    ):
        if value is not None:
            args.append(value)  # type: ignore[arg-type]
            conditions.append(sql.format(len(args)))
    args += [page.limit, page.offset]  # type: ignore[list-item]
    rows = await db.fetch(
        "SELECT zone, market, resolution_minutes, delivery_start, price_eur_mwh, source, published_at,"
        " received_at"
        f" FROM prices {_where(conditions)}"
        f" ORDER BY delivery_start DESC, source LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return [price_row_item(r) for r in rows]


def price_row_item(row: Any) -> dict[str, Any]:
    start: datetime = row["delivery_start"]
    zone = ZONES.get(row["zone"])
    return shaped(
        PricePublic,
        {
            "market": row["zone"],
            "price": _num(row["price_eur_mwh"]),
            "timestamp": iso_z(start),
            "zone": row["zone"],
            "eic": zone.eic if zone else None,
            "delivery_start": iso_z(start),
            "delivery_end": iso_z(start + timedelta(minutes=row["resolution_minutes"])),
            "resolution": Resolution(row["resolution_minutes"]).iso,
            "market_type": row["market"],
            "source": row["source"],
            "published_at": iso_z(row["published_at"]),
            "received_at": iso_z(row["received_at"]),
        },
    )


async def opportunity_history(
    db: Database,
    *,
    start: datetime | None,
    end: datetime | None,
    pair: tuple[str, str] | None,
    rule: str | None,
    status: str | None,
    market: str | None,
    page: Page,
) -> list[dict[str, Any]]:
    """Opportunities (newest revision each), newest delivery period first ([start, end) on delivery start)."""
    conditions: list[str] = []
    args: list[Any] = []
    filters: Sequence[tuple[str, Any]] = (
        ("delivery_start >= ${}", start),
        ("delivery_start < ${}", end),
        ("rule = ${}", rule),
        ("status = ${}", status),
        ("market = ${}", market),
        ("pair_a = ${}", pair[0] if pair else None),
        ("pair_b = ${}", pair[1] if pair else None),
    )
    for sql, value in filters:
        if value is not None:
            args.append(value)
            conditions.append(sql.format(len(args)))
    args += [page.limit, page.offset]
    rows = await db.fetch(
        "SELECT rule, pair_a, pair_b, market, delivery_start, status, revision, buy_zone, sell_zone,"
        " buy_price, sell_price, spread, net_eur_mwh, cost_eur_mwh, loss_factor, path,"
        " capacity_mw, profit_eur,"
        " period_hours, coupled, resolution_minutes, first_detected_at, detected_at, strategy"
        f" FROM opportunities {_where(conditions)}"
        f" ORDER BY delivery_start DESC, net_eur_mwh DESC NULLS LAST, rule, pair_a, pair_b"
        f" LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return [opportunity_row_item(r) for r in rows]


def opportunity_row_item(row: Any) -> dict[str, Any]:
    start: datetime = row["delivery_start"]
    pair = [row["pair_a"], row["pair_b"]]
    item: dict[str, Any] = {
        "market_pair": market_pair(pair),
        "spread": _num(row["spread"]),
        "net_opportunity": _num(row["net_eur_mwh"]),
        "low_market": row["buy_zone"],
        "low_price": _num(row["buy_price"]),
        "high_market": row["sell_zone"],
        "high_price": _num(row["sell_price"]),
        "transmission_cost": _num(row["cost_eur_mwh"]),
        "strategy": row["strategy"],
        "id": opportunity_id(row["rule"], (pair[0], pair[1]), row["market"], start),
        "rule": row["rule"],
        "pair": pair,
        "market": row["market"],
        "delivery_start": iso_z(start),
        "delivery_end": iso_z(start + timedelta(minutes=row["resolution_minutes"])),
        "resolution": Resolution(row["resolution_minutes"]).iso,
        "path": list(row["path"] or []),
        "capacity_mw": _num(row["capacity_mw"]),
        "profit_eur": _num(row["profit_eur"]),
        "loss_factor": _num(row["loss_factor"]),
        "coupled": row["coupled"],
        "revision": row["revision"],
        "status": row["status"],
        "first_detected_at": iso_z(row["first_detected_at"]),
        "detected_at": iso_z(row["detected_at"]),
        **empty_valuation_fields(),
    }
    value = _stored_value(row, pair, start)
    if value is not None:
        # Labels follow from the path and the date, so rows stored before labels existed get them
        # too, and a profit stored for a coupled border is not shown as one.
        item.update(valuation_fields(value))
        item["profit_eur"] = value.profit_eur
        item["coupled"] = value.coupled
    return shaped(OpportunityPublic, item)


def _stored_value(row: Any, pair: list[str], start: datetime) -> PairValue | None:
    path = tuple(row["path"] or ())
    if len(path) < 2 or row["net_eur_mwh"] is None or row["buy_zone"] is None:
        return None
    return PairValue(
        pair=(pair[0], pair[1]),
        buy_zone=row["buy_zone"],
        sell_zone=row["sell_zone"],
        buy_price=float(row["buy_price"]),
        sell_price=float(row["sell_price"]),
        net_eur_mwh=float(row["net_eur_mwh"]),
        cost_eur_mwh=float(row["cost_eur_mwh"] or 0.0),
        loss_factor=float(row["loss_factor"] or 0.0),
        path=path,
        capacity_mw=float(row["capacity_mw"] or 0.0),
        period_hours=float(row["period_hours"] or 0.0),
        capture=capture_of(path, start),
        capacity_source="",  # not stored in the database
    )


def render_csv(items: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """CSV with a header; list values (paths, pairs) joined by '>' / '/' so a cell stays one value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for item in items:
        row = []
        for col in columns:
            value = item.get(col)
            if isinstance(value, list):
                value = (">" if col == "path" else "/").join(str(v) for v in value)
            row.append("" if value is None else value)
        writer.writerow(row)
    return out.getvalue()
