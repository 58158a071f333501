"""Prices: the latest per zone (memory) and a zone's history (database)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response

from inthegrid.domain.prices import Market
from inthegrid.gateway.rest.deps import Services, dump, json_response, market_zone, optional_zones, time_range
from inthegrid.gateway.rest.schemas import CSV_CONTENT, ErrorPublic, PriceHistoryPublic, PricesPublic
from inthegrid.gateway.rest.views import price_item
from inthegrid.gateway.storage.history import Page, price_history, render_csv

router = APIRouter(prefix="/api/prices", tags=["prices"])

PRICE_COLUMNS = (
    "zone",
    "market_type",
    "resolution",
    "delivery_start",
    "delivery_end",
    "price",
    "source",
    "published_at",
    "received_at",
)
MarketType = Literal["day_ahead", "intraday", "ida1", "ida2", "ida3"]


@router.get("/latest", response_model=PricesPublic, summary="Latest delivery period per zone (live)")
async def latest_prices(
    services: Services,
    market: Annotated[
        MarketType | None,
        Query(
            description="market type; all when omitted",
            openapi_examples={"day_ahead": {"value": "day_ahead"}},
        ),
    ] = None,
    zones: Annotated[frozenset[str] | None, Depends(optional_zones)] = None,
) -> Response:
    """The proof of concept's endpoint, its shape kept (`market`, `price`, `timestamp` = delivery start):
    the latest delivery period per zone, served from memory fed by the bus."""
    live = services.live
    key = ("prices", market, zones)

    def build() -> bytes:
        prices = [
            p
            for p in live.latest_prices(Market(market) if market else None)
            if zones is None or p.zone in zones
        ]
        return dump({"status": "success", "count": len(prices), "prices": [price_item(p) for p in prices]})

    return json_response(live.cached(key, live.price_version, build))


@router.get(
    "/history/{market}",
    response_model=PriceHistoryPublic,
    summary="A zone's prices, newest first",
    responses={200: CSV_CONTENT, 404: {"model": ErrorPublic}, 503: {"model": ErrorPublic}},
)
async def history(
    services: Services,
    zone: Annotated[str, Depends(market_zone)],
    times: Annotated[tuple, Depends(time_range)],
    limit: Annotated[int, Query(ge=1, le=10000, openapi_examples={"default": {"value": 100}})] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    market_type: Annotated[
        MarketType | None, Query(description="market type; all when omitted")
    ] = "day_ahead",
    format: Annotated[Literal["json", "csv"], Query(description="csv for a spreadsheet")] = "json",
) -> Response:
    """A zone's stored prices, newest delivery period first (proof of concept: `?limit=100`; `market` is a
    zone code or alias, DE or DE-LU). An unknown market answers 404 naming the valid ones."""
    items = await price_history(
        services.db, zone, market=market_type, start=times[0], end=times[1], page=Page(limit, offset)
    )
    if format == "csv":
        return PlainTextResponse(
            render_csv(items, PRICE_COLUMNS),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="prices-{zone}.csv"'},
        )
    return json_response(
        {
            "status": "success",
            "market": zone,
            "count": len(items),
            "limit": limit,
            "offset": offset,
            "prices": items,
        }
    )
