"""Server-Sent Events: live prices and opportunity events, resumable with Last-Event-ID."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import Response

from inthegrid.gateway.deps import Services, optional_pair, optional_zones
from inthegrid.gateway.feeder import Decoder, replay_stream
from inthegrid.gateway.services import GatewayServices
from inthegrid.gateway.sse import Channel, EventFilter
from inthegrid.gateway.sse_response import SseResponse
from inthegrid.platform.bus import (
    OPPORTUNITIES_STREAM,
    OPPORTUNITY_SUBJECT_ROOT,
    PRICE_SUBJECT_ROOT,
    PRICES_STREAM,
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
        "description": "an endless event stream; `id` is the JetStream stream sequence",
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
    services: GatewayServices,
    channel: Channel,
    event_filter: EventFilter,
    last_id: int | None,
    stream: str,
    subject: str,
    decode: Decoder,
) -> Response:
    client = channel.new_client(event_filter)
    if channel.attach(client, last_id):
        return SseResponse(channel, client, services.settings.sse_heartbeat_seconds)
    # The ring does not reach back to last_id: replay from the stream for this connection only.
    if services.bus is None or last_id is None:
        raise HTTPException(503, detail="event stream unavailable: not connected to NATS yet")
    sub = await replay_stream(services.bus, stream, subject, last_id + 1, decode, client.offer)
    channel.attach_replay(client)
    return SseResponse(channel, client, services.settings.sse_heartbeat_seconds, cleanup=sub.unsubscribe)


@router.get("/prices", responses=SSE_DOC, response_class=Response, summary="Live prices (SSE)")
async def stream_prices(
    services: Services,
    zones: Annotated[frozenset[str] | None, Depends(optional_zones)] = None,
    last_event_id: LastEventId = None,
) -> Response:
    return await _open(
        services,
        services.prices,
        EventFilter(zones=zones),
        _last_id(last_event_id),
        PRICES_STREAM,
        f"{PRICE_SUBJECT_ROOT}.>",
        services.feeder.price_from,
    )


@router.get("/opportunities", responses=SSE_DOC, response_class=Response, summary="Opportunity events (SSE)")
async def stream_opportunities(
    services: Services,
    zones: Annotated[frozenset[str] | None, Depends(optional_zones)] = None,
    pair: Annotated[tuple[str, str] | None, Depends(optional_pair)] = None,
    rule: Annotated[str | None, Query(max_length=253)] = None,
    last_event_id: LastEventId = None,
) -> Response:
    return await _open(
        services,
        services.opportunities,
        EventFilter(zones=zones, rule=rule, pair=pair),
        _last_id(last_event_id),
        OPPORTUNITIES_STREAM,
        f"{OPPORTUNITY_SUBJECT_ROOT}.>",
        services.feeder.opportunity_from,
    )
