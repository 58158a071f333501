"""Server-Sent Events: live prices and opportunity events, resumable with Last-Event-ID."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import Response

from inthegrid.gateway.rest.deps import Services, optional_pair, optional_zones
from inthegrid.gateway.services import GatewayServices
from inthegrid.gateway.stream.channels import EventFilter
from inthegrid.gateway.stream.sse_response import SseResponse
from inthegrid.gateway.stream.subscriptions import (
    LiveStream,
    StreamUnavailableError,
    opportunity_stream,
    price_stream,
    subscribe,
)

router = APIRouter(prefix="/api/stream", tags=["stream"])

SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/event-stream": {
                "example": (
                    "id: 1042\nevent: price\n"
                    'data: {"zone":"DE-LU","price":75.5,"delivery_start":"2026-01-15T10:00:00Z",...}\n\n'
                )
            }
        },
        "description": "an endless event stream; `id` is the event's place in its JetStream stream",
    }
}
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", description="resume after this event id")]


def _last_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        last = int(value.strip())
    except ValueError:
        raise HTTPException(422, detail=f"Last-Event-ID {value!r} is not an event id (an integer)") from None
    if last < 0:
        raise HTTPException(422, detail="Last-Event-ID must not be negative")
    return last


async def _open(
    services: GatewayServices, live: LiveStream, event_filter: EventFilter, last_id: int | None
) -> Response:
    try:
        client, cleanup = await subscribe(services, live, event_filter, last_id)
    except StreamUnavailableError as exc:
        raise HTTPException(503, detail=str(exc)) from None
    return SseResponse(live.channel, client, services.settings.sse_heartbeat_seconds, cleanup=cleanup)


@router.get("/prices", responses=SSE_DOC, response_class=Response, summary="Live prices (SSE)")
async def stream_prices(
    services: Services,
    zones: Annotated[frozenset[str] | None, Depends(optional_zones)] = None,
    last_event_id: LastEventId = None,
) -> Response:
    """Server-Sent Events of prices as they arrive (filter `zones`); `id:` is the price's position,
    JetStream stream sequence x 1024 + its index in the message (a message carries a batch of one
    zone's prices), and a `Last-Event-ID` header resumes after it without gaps."""
    return await _open(services, price_stream(services), EventFilter(zones=zones), _last_id(last_event_id))


@router.get("/opportunities", responses=SSE_DOC, response_class=Response, summary="Opportunity events (SSE)")
async def stream_opportunities(
    services: Services,
    zones: Annotated[frozenset[str] | None, Depends(optional_zones)] = None,
    pair: Annotated[tuple[str, str] | None, Depends(optional_pair)] = None,
    rule: Annotated[str | None, Query(max_length=253)] = None,
    last_event_id: LastEventId = None,
) -> Response:
    """Server-Sent Events of opportunity events (opened, updated, closed; filters `zones`, `pair`,
    `rule`); `id:` is the event's position, JetStream stream sequence x 1024 + its index in the message
    (a message carries a batch of one rule's and pair's events), and a `Last-Event-ID` header resumes
    after it without gaps."""
    return await _open(
        services,
        opportunity_stream(services),
        EventFilter(zones=zones, rule=rule, pair=pair),
        _last_id(last_event_id),
    )
