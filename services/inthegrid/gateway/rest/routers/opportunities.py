"""Opportunity history (database): filters, paging and CSV export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response

from inthegrid.gateway.rest.deps import Services, json_response, optional_pair, time_range
from inthegrid.gateway.rest.schemas import CSV_CONTENT, ErrorPublic, OpportunityHistoryPublic
from inthegrid.gateway.storage.history import Page, opportunity_history, render_csv

router = APIRouter(prefix="/api/opportunities", tags=["opportunities"])

OPPORTUNITY_COLUMNS = (
    "id",
    "rule",
    "market",
    "pair",
    "delivery_start",
    "delivery_end",
    "status",
    "revision",
    "low_market",
    "low_price",
    "high_market",
    "high_price",
    "spread",
    "net_opportunity",
    "transmission_cost",
    "loss_factor",
    "path",
    "capacity_mw",
    "profit_eur",
    "coupled",
    "value_eur",
    "congestion_value_eur",
    "capture",
    "capturable",
    "weakest_hop",
    "flow_based_approximation",
    "first_detected_at",
    "detected_at",
    "strategy",
)


@router.get(
    "/history",
    response_model=OpportunityHistoryPublic,
    responses={200: CSV_CONTENT, 503: {"model": ErrorPublic}},
    summary="Opportunities by delivery period, newest first",
)
async def history(
    services: Services,
    times: Annotated[tuple, Depends(time_range)],
    pair: Annotated[tuple[str, str] | None, Depends(optional_pair)] = None,
    rule: Annotated[
        str | None, Query(max_length=253, openapi_examples={"poc": {"value": "proof-of-concept"}})
    ] = None,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    market: Annotated[Literal["day_ahead", "intraday", "ida1", "ida2", "ida3"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10000, openapi_examples={"default": {"value": 100}})] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """Stored opportunities (newest revision each, `status` open or closed) by delivery period, newest
    first; `format=csv` for a spreadsheet."""
    items = await opportunity_history(
        services.db,
        start=times[0],
        end=times[1],
        pair=pair,
        rule=rule,
        status=status,
        market=market,
        page=Page(limit, offset),
    )
    if format == "csv":
        return PlainTextResponse(
            render_csv(items, OPPORTUNITY_COLUMNS),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="opportunities.csv"'},
        )
    return json_response({"count": len(items), "limit": limit, "offset": offset, "data": items})
