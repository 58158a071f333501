"""Shared dependencies of the routers: the services, and validated path and query values."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import orjson
from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BeforeValidator

from inthegrid.domain.plausibility import TimeWindow
from inthegrid.domain.zones import ZONE_CODES, parse_pair, zone_code
from inthegrid.errors import InTheGridError
from inthegrid.gateway.services import GatewayServices


async def get_services(request: Request) -> GatewayServices:
    services: GatewayServices = request.app.state.services
    return services


Services = Annotated[GatewayServices, Depends(get_services)]


def dump(document: object) -> bytes:
    return orjson.dumps(document)


def json_response(body: bytes | object, status_code: int = 200) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content=content, status_code=status_code, media_type="application/json")


def unprocessable(field: str, message: str, value: object) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors."""
    return HTTPException(
        422, detail=[{"type": "value_error", "loc": ["query", field], "msg": message, "input": value}]
    )


async def market_zone(
    market: Annotated[
        str,
        Path(
            description="zone code or alias (DE, DE-LU, FR, ...)",
            openapi_examples={"zone": {"value": "DE-LU"}, "alias": {"value": "DE"}},
        ),
    ],
) -> str:
    """A path's zone; unknown -> 404 naming the valid ones."""
    try:
        return zone_code(market)
    except InTheGridError:
        valid = ", ".join(ZONE_CODES)
        raise HTTPException(404, detail=f"unknown market {market!r}; valid markets: {valid}") from None


async def optional_pair(
    pair: Annotated[
        str | None,
        Query(
            description="zone pair, e.g. DE-LU/FR or DE-FR", openapi_examples={"pair": {"value": "DE-LU/FR"}}
        ),
    ] = None,
) -> tuple[str, str] | None:
    if pair is None:
        return None
    try:
        return parse_pair(pair)
    except InTheGridError as exc:
        raise unprocessable("pair", str(exc), pair) from None


async def optional_zones(
    zone: Annotated[
        list[str] | None,
        Query(
            description="zones (repeat or comma-separate)",
            openapi_examples={"two": {"value": ["DE-LU", "FR"]}},
        ),
    ] = None,
) -> frozenset[str] | None:
    if not zone:
        return None
    codes = set()
    for item in zone:
        for part in item.split(","):
            if part.strip():
                try:
                    codes.add(zone_code(part))
                except InTheGridError as exc:
                    raise unprocessable("zone", str(exc), part) from None
    return frozenset(codes) or None


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _iso_only(value: object) -> object:
    """Numbers are refused: pydantic would read them as Unix seconds or milliseconds, guessing by
    size, while the API documents ISO-8601 date-times only."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError("expected an ISO-8601 date-time such as 2026-01-15T00:00:00Z, not a number")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]


def utc(moment: datetime | None) -> datetime | None:
    """Query times: naive ones are read as UTC (the API's only time zone).

    Raises OverflowError for an offset that moves a calendar-edge time out of range
    (0001-01-01T00:00+01:00); requested_range turns that into a 422.
    """
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _representable(field: str, moment: datetime | None) -> datetime | None:
    try:
        return utc(moment)
    except OverflowError:
        raise unprocessable(field, "time is outside the representable range", str(moment)) from None


From = Annotated[
    IsoDateTime | None,
    Query(
        alias="from",
        description="delivery start >= this (ISO-8601)",
        openapi_examples={"day": {"value": "2026-01-15T00:00:00Z"}},
    ),
]
To = Annotated[
    IsoDateTime | None,
    Query(
        alias="to",
        description="delivery start < this (ISO-8601)",
        openapi_examples={"day": {"value": "2026-01-16T00:00:00Z"}},
    ),
]


async def requested_range(start: From = None, end: To = None) -> tuple[datetime | None, datetime | None]:
    """The [from, to) a client asked for, in UTC (None: not given); 422 when unrepresentable or empty."""
    start, end = _representable("from", start), _representable("to", end)
    if start is not None and end is not None and start >= end:
        raise unprocessable("to", "'to' must be after 'from'", end.isoformat())
    return start, end


def within_window(
    window: TimeWindow, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """[start, end) intersected with the plausible window (an open side is the window's edge), so
    history never lists a row no consumer would accept (one stored before the window existed)."""
    first, last = (
        window.earliest_delivery,
        window.latest_delivery(datetime.now(UTC)) + timedelta(microseconds=1),
    )
    start = first if start is None else min(max(start, first), last)
    end = last if end is None else min(max(end, first), last)
    return start, end


async def time_range(
    services: Services,
    requested: Annotated[tuple[datetime | None, datetime | None], Depends(requested_range)],
) -> tuple[datetime, datetime]:
    """[from, to) within the plausible window. A time that UTC cannot represent (an offset at the
    calendar's edge) is a 422."""
    return within_window(services.settings.time_window, *requested)
