"""Server-Sent Events fan-out: one channel per stream, a bounded queue per client, a ring of recent
events for resuming with ``Last-Event-ID``.

A slow client never slows the bus consumer or other clients: offering an event never waits. When a
client's queue is full the event is dropped for that client and counted; the client is then ended
once its queue has drained (its browser reconnects with the last id it received and resumes from
the ring or the stream, so it misses nothing), and disconnected at once if the queue stays full for
``hopeless_seconds`` (it is not reading at all).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.domain.prices import Price
from inthegrid.gateway.metrics import SSE_CLIENTS, SSE_DISCONNECTED, SSE_DROPPED
from inthegrid.gateway.rest.views import opportunity_item, price_item


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One live event, encoded once for every client, and what filters look at.

    ``frame`` is the Server-Sent Events frame; ``message`` the same event as one WebSocket text
    message (``{"id": ..., "event": ..., "data": {...}}``): both carry the event id (the stream
    sequence; for prices the position, see live/feeder.py).
    """

    sequence: int
    zones: tuple[str, ...]
    rule: str | None
    pair: tuple[str, str] | None
    frame: bytes
    message: bytes


def encoded(sequence: int, event: str, data: dict[str, object]) -> tuple[bytes, bytes]:
    """The SSE frame and the WebSocket message of one event (the JSON is serialised once)."""
    body = orjson.dumps(data)
    frame = b"id: %d\nevent: %s\ndata: %s\n\n" % (sequence, event.encode(), body)
    message = b'{"id":%d,"event":"%s","data":%s}' % (sequence, event.encode(), body)
    return frame, message


def price_event(sequence: int, price: Price) -> SseEvent:
    data = price_item(price)
    data["sequence"] = sequence
    return SseEvent(sequence, (price.zone,), None, None, *encoded(sequence, "price", data))


def opportunity_event(sequence: int, event: OpportunityEvent) -> SseEvent:
    return SseEvent(
        sequence,
        event.pair,
        event.rule,
        event.pair,
        *encoded(sequence, "opportunity", opportunity_item(event, sequence)),
    )


@dataclass(frozen=True, slots=True)
class EventFilter:
    zones: frozenset[str] | None = None
    rule: str | None = None
    pair: tuple[str, str] | None = None

    def matches(self, event: SseEvent) -> bool:
        if self.zones is not None and not self.zones.intersection(event.zones):
            return False
        if self.rule is not None and event.rule != self.rule:
            return False
        return self.pair is None or event.pair == self.pair


@dataclass(eq=False)
class SseClient:
    stream: str
    filter: EventFilter
    queue: asyncio.Queue[SseEvent]
    hopeless_seconds: float
    backlog: deque[SseEvent] = field(default_factory=deque)
    full_since: float | None = None
    gap: bool = False  # an event was dropped: send what was queued before it, then end (client resumes)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str | None = None

    def offer(self, event: SseEvent, now: float | None = None) -> None:
        if self.closed.is_set() or not self.filter.matches(event):
            return
        if not self.gap:
            try:
                self.queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                pass
        # After the first drop nothing more is queued: the client must not receive a later event
        # (its id would become the resume point and the dropped ones would be skipped for good).
        SSE_DROPPED.labels(self.stream).inc()
        self.gap = True
        now = time.monotonic() if now is None else now
        if self.full_since is None:
            self.full_since = now
        elif now - self.full_since >= self.hopeless_seconds:
            self.close("hopeless")

    def close(self, reason: str) -> None:
        if not self.closed.is_set():
            self.close_reason = reason
            SSE_DISCONNECTED.labels(self.stream, reason).inc()
            self.closed.set()

    async def next_event(self, timeout: float) -> SseEvent | None:
        """The next event (backlog first), or None after ``timeout`` seconds without one."""
        if self.backlog:
            return self.backlog.popleft()
        try:
            event = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        self.full_since = None  # the client is reading again
        return event


class Channel:
    """Fan-out of one stream's events to its clients, with a ring of the most recent events.

    The ring holds every event with a sequence above ``covered_from``: the bus consumer delivers
    every message after its start-up snapshot (``mark_contiguous``), and eviction raises the bar.
    """

    def __init__(
        self,
        stream: str,
        ring_size: int,
        queue_size: int,
        hopeless_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self._clock = clock  # injectable, so the hopeless timer is tested on a clock the test controls
        self.queue_size = queue_size
        self.hopeless_seconds = hopeless_seconds
        self._ring: deque[SseEvent] = deque()
        self._ring_size = ring_size
        self.covered_from: int | None = None
        self.last_sequence = 0
        self._clients: set[SseClient] = set()
        self._replaying: set[SseClient] = set()  # fed by their own stream consumer, not by publish()

    @property
    def client_count(self) -> int:
        return len(self._clients) + len(self._replaying)

    def mark_contiguous(self, sequence: int) -> None:
        """From now on every event with a sequence above ``sequence`` passes through publish()."""
        if self.covered_from is None or sequence > self.covered_from:
            self.covered_from = sequence

    def covers(self, last_id: int) -> bool:
        return self.covered_from is not None and last_id >= self.covered_from

    def publish(self, event: SseEvent) -> None:
        if event.sequence <= self.last_sequence:
            return  # a redelivery after a consumer reset
        self.last_sequence = event.sequence
        if self._ring_size:
            self._ring.append(event)
            if len(self._ring) > self._ring_size:
                evicted = self._ring.popleft()
                if self.covered_from is not None:
                    self.covered_from = max(self.covered_from, evicted.sequence)
        now = self._clock()
        for client in tuple(self._clients):
            client.offer(event, now)

    def new_client(self, event_filter: EventFilter) -> SseClient:
        return SseClient(self.stream, event_filter, asyncio.Queue(self.queue_size), self.hopeless_seconds)

    def attach(self, client: SseClient, last_id: int | None) -> bool:
        """Register for live events, first queuing ring events after ``last_id``.

        False when the ring cannot prove it holds everything after ``last_id``: the caller then
        replays from the stream itself. Runs without awaiting, so no event slips between the
        backlog and the live queue.
        """
        if last_id is not None and last_id < self.last_sequence:
            if not self.covers(last_id):
                return False
            client.backlog.extend(e for e in self._ring if e.sequence > last_id and client.filter.matches(e))
        self._clients.add(client)
        SSE_CLIENTS.labels(self.stream).inc()
        return True

    def attach_replay(self, client: SseClient) -> None:
        self._replaying.add(client)
        SSE_CLIENTS.labels(self.stream).inc()

    def detach(self, client: SseClient) -> None:
        if client in self._clients or client in self._replaying:
            self._clients.discard(client)
            self._replaying.discard(client)
            SSE_CLIENTS.labels(self.stream).dec()

    def close_all(self, reason: str = "shutdown") -> None:
        for client in (*self._clients, *self._replaying):
            client.close(reason)

    def recent(self) -> Iterable[SseEvent]:
        return tuple(self._ring)
