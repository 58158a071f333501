"""Opening one live subscription for a push client (SSE or WebSocket): from the channel's ring when it
reaches back to the client's last event id, otherwise from the JetStream stream for this client only.
Both transports resume the same way, by event id (see feeder)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from inthegrid.domain.batch_codec import POSITIONS_PER_MESSAGE
from inthegrid.errors import InTheGridError
from inthegrid.gateway.live.feeder import Decoder, replay_stream
from inthegrid.gateway.services import GatewayServices
from inthegrid.gateway.stream.channels import Channel, EventFilter, SseClient
from inthegrid.platform.bus import (
    OPPORTUNITIES_STREAM,
    OPPORTUNITY_SUBJECT_ROOT,
    PRICE_SUBJECT_ROOT,
    PRICES_STREAM,
)

Cleanup = Callable[[], Awaitable[None]]


class StreamUnavailableError(InTheGridError):
    """The ring cannot serve the resume and the gateway is not connected to NATS (yet)."""


@dataclass(frozen=True, slots=True)
class LiveStream:
    """Which channel, stream and decoder serve one kind of live event."""

    channel: Channel
    stream: str
    subject: str
    decode: Decoder
    ids_per_message: int = POSITIONS_PER_MESSAGE  # ids are positions in batch messages (see feeder)


def price_stream(services: GatewayServices) -> LiveStream:
    return LiveStream(
        services.prices,
        PRICES_STREAM,
        f"{PRICE_SUBJECT_ROOT}.>",
        services.feeder.price_from,
    )


def opportunity_stream(services: GatewayServices) -> LiveStream:
    return LiveStream(
        services.opportunities,
        OPPORTUNITIES_STREAM,
        f"{OPPORTUNITY_SUBJECT_ROOT}.>",
        services.feeder.opportunity_from,
    )


async def subscribe(
    services: GatewayServices, live: LiveStream, event_filter: EventFilter, last_id: int | None
) -> tuple[SseClient, Cleanup | None]:
    """A client attached to ``live``'s channel, plus what to call when it leaves (None: nothing)."""
    client = live.channel.new_client(event_filter)
    if live.channel.attach(client, last_id):
        return client, None
    if services.bus is None or last_id is None:
        raise StreamUnavailableError("event stream unavailable: not connected to NATS yet")
    sub = await replay_stream(
        services.bus, live.stream, live.subject, last_id, live.ids_per_message, live.decode, client.offer
    )
    live.channel.attach_replay(client)
    return client, sub.unsubscribe
