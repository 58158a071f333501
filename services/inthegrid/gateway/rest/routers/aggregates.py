"""Long-range history: prices per hour or day, and daily figures per border (database)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from inthegrid.gateway.rest.deps import (
    Services,
    json_response,
    market_zone,
    optional_pair,
    time_range,
    unprocessable,
)
from inthegrid.gateway.rest.history_schemas import BorderDaysPublic, PriceBucketsPublic, StoredPricesPublic
from inthegrid.gateway.rest.schemas import ErrorPublic
from inthegrid.gateway.storage.aggregates import border_days, latest_stored_prices, price_buckets

router = APIRouter(prefix="/api/history", tags=["history"])
MarketType = Literal["day_ahead", "intraday", "ida1", "ida2", "ida3"]


@router.get(
    "/prices/{market}",
    response_model=PriceBucketsPublic,
    summary="A zone's prices per UTC hour or day (mean, min, max), newest first",
    responses={404: {"model": ErrorPublic}, 503: {"model": ErrorPublic}},
)
async def price_aggregates(
    services: Services,
    zone: Annotated[str, Depends(market_zone)],
    times: Annotated[tuple, Depends(time_range)],
    bucket: Annotated[Literal["hour", "day"], Query(description="bucket length")] = "day",
    market_type: Annotated[MarketType, Query(description="market type")] = "day_ahead",
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> Response:
    """UTC hours or days whose start is in [from, to), newest first: from TimescaleDB's continuous
    aggregates when the schema has them (`schema_info.aggregates = continuous`), else aggregated
    from the raw table, with the same numbers (rounded to 4 decimals) either way."""
    items = await price_buckets(
        services.db, zone, bucket=bucket, market=market_type, start=times[0], end=times[1], limit=limit
    )
    return json_response(
        {"status": "success", "market": zone, "bucket": bucket, "count": len(items), "buckets": items}
    )


@router.get(
    "/borders",
    response_model=BorderDaysPublic,
    summary="A zone pair per UTC day: mean prices and spread, and what rules valued on it",
    responses={503: {"model": ErrorPublic}},
)
async def border_history(
    services: Services,
    times: Annotated[tuple, Depends(time_range)],
    pair: Annotated[tuple[str, str] | None, Depends(optional_pair)] = None,
    rule: Annotated[str | None, Query(max_length=253)] = None,
    market_type: Annotated[MarketType, Query(description="market type")] = "day_ahead",
    limit: Annotated[int, Query(ge=1, le=20_000)] = 2000,
) -> Response:
    """Per UTC day, newest first: both zones' mean prices and spread; the valued fields come from
    stored opportunities (0 / null on days without any). `pair` is required (422 without)."""
    if pair is None:
        raise unprocessable("pair", "a zone pair is required, e.g. DE-LU/FR", None)
    items = await border_days(
        services.db, pair, market=market_type, rule=rule, start=times[0], end=times[1], limit=limit
    )
    return json_response({"status": "success", "pair": list(pair), "count": len(items), "days": items})


@router.get(
    "/latest",
    response_model=StoredPricesPublic,
    summary="The newest stored period per zone (database; /api/prices/latest answers from memory)",
    responses={503: {"model": ErrorPublic}},
)
async def latest_stored(
    services: Services,
    market_type: Annotated[MarketType, Query(description="market type")] = "day_ahead",
) -> Response:
    """The newest stored period per zone, from the database (`/api/prices/latest` answers from memory)."""
    items = await latest_stored_prices(services.db, market=market_type)
    return json_response({"status": "success", "count": len(items), "prices": items})
