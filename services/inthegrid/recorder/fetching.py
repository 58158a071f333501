"""How the recorder takes messages from a durable pull consumer: batches filled up to a size or a flush
deadline, the next one fetched while the caller writes the current one.

Overlapping only moves the wait for the next batch off the write's critical path: acks still go out
after each batch's transaction committed, so a crash leaves both batches unacked and JetStream
redelivers them (the natural keys make a second write a no-op).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from inthegrid.platform.bus import fetch_batch
from inthegrid.platform.runtime import wait_or_stop

log = logging.getLogger(__name__)

# How long to wait for the first message of a batch; bounds how late a stop request is noticed.
IDLE_FETCH_SECONDS = 1.0
# After a failed fetch (connection lost), wait this long before the next.
FETCH_RETRY_SECONDS = 1.0


async def collect_batch(
    sub: JetStreamContext.PullSubscription, size: int, flush_seconds: float, stop: asyncio.Event
) -> list[Msg]:
    """Wait for a first message, then keep filling the batch until it is full or ``flush_seconds`` pass."""
    msgs = list(await fetch_batch(sub, size, IDLE_FETCH_SECONDS))
    if not msgs:
        return msgs
    deadline = time.monotonic() + flush_seconds
    while len(msgs) < size and not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining < 0.005:
            break
        more = await fetch_batch(sub, size - len(msgs), remaining)
        if not more:
            break
        msgs.extend(more)
    return msgs


async def overlapped_batches(
    sub: JetStreamContext.PullSubscription,
    size: Callable[[], int],
    flush_seconds: float,
    stop: asyncio.Event,
    name: str,
) -> AsyncGenerator[list[Msg], None]:
    """Non-empty batches until stop, each ``size()`` messages at most; while the caller handles one, the
    next is being fetched. A batch fetched when stop arrives is still yielded, so nothing in hand is
    left unacked; a failed fetch is logged and retried."""

    async def fetch() -> list[Msg]:
        try:
            return await collect_batch(sub, size(), flush_seconds, stop)
        except nats.errors.Error as exc:
            log.warning("fetch from %s failed: %s", name, exc)
            await wait_or_stop(stop, FETCH_RETRY_SECONDS)
            return []

    upcoming = asyncio.create_task(fetch(), name=f"fetch-{name}")
    try:
        while True:
            msgs = await upcoming
            stopping = stop.is_set()
            if not stopping:
                upcoming = asyncio.create_task(fetch(), name=f"fetch-{name}")
            if msgs:
                yield msgs
            if stopping:
                return
    finally:
        # Only when the caller failed: a fetch cut short leaves its messages unacked, for redelivery.
        if not upcoming.done():
            upcoming.cancel()
            with contextlib.suppress(asyncio.CancelledError, nats.errors.Error):
                await upcoming
