"""The SSE response as the ASGI server drives it: a client whose socket stopped taking data (its
``send`` never returns) is cut off once its queue has stayed full for ``hopeless_seconds``, while a
client on the same channel receives every event in order.

The stalled socket is an ASGI ``send`` that blocks, and time is a clock the test moves, so what is
tested is the gateway's behaviour, not the size of this machine's socket buffers or its speed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from inthegrid.gateway.metrics import SSE_DISCONNECTED
from inthegrid.gateway.stream.channels import Channel, EventFilter, price_event
from inthegrid.gateway.stream.sse_response import SseResponse
from tests.unit.gateway.live.test_state import price

Message = dict[str, Any]
QUEUE, HOPELESS = 4, 1.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Socket:
    """One client connection as the ASGI app sees it."""

    def __init__(self, *, stalled: bool) -> None:
        self.stalled = stalled
        self.bodies: list[bytes] = []
        self.body_arrived = asyncio.Event()
        self.disconnected = asyncio.Event()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and self.bodies and self.stalled:
            await asyncio.Event().wait()  # the kernel buffers are full: this send never completes
        if message["type"] == "http.response.body":
            self.bodies.append(message["body"])
            self.body_arrived.set()

    async def receive(self) -> Message:
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    def event_ids(self) -> list[int]:
        return [int(m) for m in re.findall(rb"^id: (\d+)$", b"".join(self.bodies), re.MULTILINE)]


def serve(channel: Channel, socket: Socket) -> asyncio.Task[None]:
    client = channel.new_client(EventFilter())
    assert channel.attach(client, None)
    response = SseResponse(channel, client, heartbeat_seconds=3600.0)
    call: Callable[[], Awaitable[None]] = lambda: response({}, socket.receive, socket.send)  # noqa: E731
    return asyncio.create_task(call())


async def until(check: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(10):
        while not check():
            await asyncio.sleep(0)
    assert check(), what


async def test_a_stalled_socket_is_cut_off_while_a_healthy_client_receives_everything() -> None:
    clock = FakeClock()
    channel = Channel("prices", 0, QUEUE, HOPELESS, clock=clock)
    channel.mark_contiguous(0)
    stalled, healthy = Socket(stalled=True), Socket(stalled=False)
    hopeless_before = SSE_DISCONNECTED.labels("prices", "hopeless")._value.get()
    stalled_task, healthy_task = serve(channel, stalled), serve(channel, healthy)
    await until(lambda: len(stalled.bodies) == 1 and len(healthy.bodies) == 1, "both streams opened")

    sequence = 0
    while not stalled_task.done():
        sequence += 1
        assert sequence < 100, "the stalled client was never cut off"
        channel.publish(price_event(sequence, price("DE", float(sequence))))
        await until(lambda n=sequence: n in healthy.event_ids(), f"event {sequence} at the healthy client")
        clock.now += 0.25  # events keep coming while the stalled client's queue stays full
        await asyncio.sleep(0)

    # Event 1 is stuck in the blocked send, 2..5 fill the queue, 6 is dropped and starts the timer;
    # the first event offered a full hopeless interval later (0.25 s apart: event 10) ends it.
    assert sequence == 1 + QUEUE + 1 + int(HOPELESS / 0.25)
    await stalled_task  # it returned: the blocked send was cancelled, not waited for
    assert SSE_DISCONNECTED.labels("prices", "hopeless")._value.get() == hopeless_before + 1
    assert channel.client_count == 1
    assert stalled.event_ids() == []  # nothing but the stream's opening ever reached that socket

    for more in range(sequence + 1, sequence + 20):
        channel.publish(price_event(more, price("FR", float(more))))
        await until(lambda n=more: n in healthy.event_ids(), f"event {more} at the healthy client")
    assert healthy.event_ids() == list(range(1, sequence + 20))  # all, in order, none twice
    healthy.disconnected.set()
    await healthy_task
    assert channel.client_count == 0


async def test_a_client_that_reads_again_before_the_interval_is_kept() -> None:
    clock = FakeClock()
    channel = Channel("prices", 0, QUEUE, HOPELESS, clock=clock)
    channel.mark_contiguous(0)
    slow = Socket(stalled=False)
    task = serve(channel, slow)
    await until(lambda: len(slow.bodies) == 1, "stream opened")
    for sequence in range(1, 40):
        channel.publish(price_event(sequence, price("DE", float(sequence))))
        clock.now += HOPELESS  # a long time between events, but the client drains each one
        await until(lambda n=sequence: n in slow.event_ids(), f"event {sequence}")
    assert not task.done() and slow.event_ids() == list(range(1, 40))
    slow.disconnected.set()
    await task
