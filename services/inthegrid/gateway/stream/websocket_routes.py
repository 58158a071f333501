"""WebSocket twins of the Server-Sent Events streams: the same events, filters and resume semantics.

Each message is one JSON text: ``{"id": <the SSE event id>, "event": "price" | "opportunity",
"data": {...}}`` (``{"event": "heartbeat"}`` while nothing happens). A client resumes by reconnecting
with ``?last_event_id=<the last id it received>``, like an EventSource's ``Last-Event-ID``. The
gateway closes a client that falls behind with code 4000 (it reconnects and resumes, missing nothing)
and one that stopped reading with 1008. API keys go in the ``X-API-Key`` or ``Authorization``
header of the upgrade request, as for every other /api/ route.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, WebSocket
from starlette.websockets import WebSocketDisconnect

from inthegrid.gateway.rest.deps import optional_pair, optional_zones
from inthegrid.gateway.services import GatewayServices
from inthegrid.gateway.stream.channels import EventFilter, SseClient
from inthegrid.gateway.stream.subscriptions import (
    Cleanup,
    LiveStream,
    StreamUnavailableError,
    opportunity_stream,
    price_stream,
    subscribe,
)

router = APIRouter(prefix="/api/ws", tags=["stream"])

HEARTBEAT = '{"event":"heartbeat"}'
CLOSE_LAGGING = 4000  # application code: events were dropped for you; reconnect with last_event_id
CLOSE_TRY_AGAIN = 1013  # not connected to NATS yet
CLOSE_POLICY = 1008  # stopped reading
LastEventId = Annotated[int | None, Query(ge=0, le=2**63 - 1, description="resume after this event id")]


def _services(websocket: WebSocket) -> GatewayServices:
    services: GatewayServices = websocket.app.state.services
    return services


async def _serve(
    websocket: WebSocket, live: LiveStream, event_filter: EventFilter, last_id: int | None
) -> None:
    services = _services(websocket)
    try:
        client, cleanup = await subscribe(services, live, event_filter, last_id)
    except StreamUnavailableError as exc:
        await websocket.close(CLOSE_TRY_AGAIN, reason=str(exc)[:120])
        return
    await websocket.accept()
    try:
        reason = await _run(websocket, client, services.settings.sse_heartbeat_seconds)
    finally:
        live.channel.detach(client)
        await _clean_up(cleanup)
    code = {"lagging": CLOSE_LAGGING, "hopeless": CLOSE_POLICY}.get(reason or "")
    if code is not None:
        with contextlib.suppress(Exception), anyio.move_on_after(1):
            await websocket.close(code, reason=f"{reason}: reconnect with last_event_id")


async def _run(websocket: WebSocket, client: SseClient, heartbeat_seconds: float) -> str | None:
    """Send events until the client leaves, falls behind or stops reading; returns why it ended."""
    async with anyio.create_task_group() as group:

        async def run(job: Callable[[], Awaitable[Any]]) -> None:
            await job()
            group.cancel_scope.cancel()

        group.start_soon(run, lambda: _pump(websocket, client, heartbeat_seconds))
        group.start_soon(run, lambda: _wait_disconnect(websocket))
        group.start_soon(run, client.closed.wait)
    return client.close_reason


async def _pump(websocket: WebSocket, client: SseClient, heartbeat_seconds: float) -> None:
    while True:
        event = await client.next_event(heartbeat_seconds)
        try:
            await websocket.send_text(HEARTBEAT if event is None else event.message.decode())
        except WebSocketDisconnect:
            return
        if client.gap and client.queue.empty() and not client.backlog:
            client.close("lagging")
            return


async def _wait_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass  # nothing a client sends changes its stream


async def _clean_up(cleanup: Cleanup | None) -> None:
    if cleanup is not None:
        with contextlib.suppress(Exception):
            await cleanup()


@router.websocket("/prices")
async def websocket_prices(
    websocket: WebSocket,
    zones: Annotated[frozenset[str] | None, Depends(optional_zones)] = None,
    last_event_id: LastEventId = None,
) -> None:
    await _serve(websocket, price_stream(_services(websocket)), EventFilter(zones=zones), last_event_id)


@router.websocket("/opportunities")
async def websocket_opportunities(
    websocket: WebSocket,
    zones: Annotated[frozenset[str] | None, Depends(optional_zones)] = None,
    pair: Annotated[tuple[str, str] | None, Depends(optional_pair)] = None,
    rule: Annotated[str | None, Query(max_length=253)] = None,
    last_event_id: LastEventId = None,
) -> None:
    live = opportunity_stream(_services(websocket))
    await _serve(websocket, live, EventFilter(zones=zones, rule=rule, pair=pair), last_event_id)
