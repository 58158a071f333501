"""One durable pull consumer feeding one table family: fetch a batch, decode, write, then ack.

Acks go out only after the batch's transaction committed, so a crash at any point leaves the
messages unacked and JetStream redelivers them; the natural keys make the second write a no-op.
While the database is unreachable the batch in hand is retried with backoff (and kept alive with
``in_progress`` so JetStream does not hand it to anybody else), readiness reports the database
down, and nothing further is fetched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from inthegrid.errors import DecodeError
from inthegrid.platform.bus import Bus, dead_letter, fetch_batch
from inthegrid.platform.db import is_transient
from inthegrid.platform.metrics import MESSAGES_CONSUMED, HealthState
from inthegrid.platform.runtime import wait_or_stop
from inthegrid.recorder.metrics import BATCH_ROWS, BATCH_SECONDS, ROWS_WRITTEN, WRITE_ERRORS

log = logging.getLogger(__name__)

SERVICE = "recorder"
# How long to wait for the first message of a batch; bounds how late a stop request is noticed.
IDLE_FETCH_SECONDS = 1.0
# JetStream redelivers after ack_wait (30 s); telling it "still working" well before keeps the batch ours.
KEEPALIVE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 5.0

Row = tuple[Any, ...]
Writer = Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[dict[str, int]]]


def _retryable(exc: BaseException) -> bool:
    """A write that may succeed later. asyncpg's InternalClientError ("cannot switch to state ...;
    another operation is in progress") comes from a connection the server dropped mid-COPY, as when it
    shuts down: the connection's fault, never the data's, so it must not dead-letter the rows."""
    return is_transient(exc) or isinstance(exc, asyncpg.InternalClientError)


@dataclass(frozen=True, slots=True)
class Sink:
    """Where one stream's messages go: how to decode one and how to write a batch."""

    table: str  # the metric label of the batch as a whole
    stream: str
    durable: str
    subject: str
    decode: Callable[[Msg], Row]  # raises DecodeError for a message that can never be stored
    write: Writer


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


class StreamRecorder:
    def __init__(
        self,
        bus: Bus,
        pool: asyncpg.Pool,
        sink: Sink,
        *,
        batch: int,
        flush_seconds: float,
        stop: asyncio.Event,
        health: HealthState,
    ) -> None:
        self.bus, self.pool, self.sink = bus, pool, sink
        self.batch, self.flush_seconds = batch, flush_seconds
        self.stop, self.health = stop, health

    async def run(self, sub: JetStreamContext.PullSubscription) -> None:
        """Consume until stop; the batch in hand when stop arrives is finished first."""
        while not self.stop.is_set():
            try:
                msgs = await collect_batch(sub, self.batch, self.flush_seconds, self.stop)
            except nats.errors.Error as exc:
                log.warning("fetch from %s failed: %s", self.sink.durable, exc)
                await wait_or_stop(self.stop, 1.0)
                continue
            if msgs:
                await self.handle(msgs)

    async def handle(self, msgs: Sequence[Msg]) -> None:
        rows: list[Row] = []
        kept: list[Msg] = []
        for msg in msgs:
            try:
                rows.append(self.sink.decode(msg))
                kept.append(msg)
            except DecodeError as exc:
                await dead_letter(self.bus, msg, stream=self.sink.stream, service=SERVICE, reason=str(exc))
        if not rows:
            return
        stored = await self._store_with_retry(rows, kept)
        for msg in stored:
            await msg.ack()
        MESSAGES_CONSUMED.labels(SERVICE, self.sink.stream).inc(len(stored))

    async def _store_with_retry(self, rows: list[Row], msgs: list[Msg]) -> list[Msg]:
        """Messages whose rows are committed; [] when stopped while the database was down (they are nak'd)."""
        delay = 0.2
        kept_alive = time.monotonic()
        refused: list[Msg] = []
        while True:
            try:
                stored = await self._store(rows, msgs, refused)
                self.health.set("database", True)
                return stored
            except Exception as exc:
                if not _retryable(exc):
                    raise
                self.health.set("database", False)
                log.warning(
                    "database write to %s failed (%s); retrying in %.1fs", self.sink.table, exc, delay
                )
            if refused:
                # Rows dead-lettered before the outage cut the attempt short are settled (term'd): retrying
                # them would store a refused row and ack a message twice.
                gone = {id(m) for m in refused}
                kept = [(r, m) for r, m in zip(rows, msgs, strict=True) if id(m) not in gone]
                rows, msgs = [r for r, _ in kept], [m for _, m in kept]
                refused.clear()
            if self.stop.is_set():
                # Hand the batch back at once so the next recorder need not wait for ack_wait.
                for msg in msgs:
                    await msg.nak()
                return []
            if time.monotonic() - kept_alive > KEEPALIVE_SECONDS:
                for msg in msgs:
                    await msg.in_progress()
                kept_alive = time.monotonic()
            await wait_or_stop(self.stop, delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _store(self, rows: list[Row], msgs: list[Msg], refused: list[Msg]) -> list[Msg]:
        """Write the batch; if the database refuses it (bad data, not an outage), go row by row and
        dead-letter the rows it refuses (appended to ``refused``). Transient errors go to the retry loop."""
        try:
            await self._write(rows)
            return msgs
        except Exception as exc:
            if _retryable(exc):
                raise
            log.error(
                "database refused a batch of %d for %s (%s); writing row by row",
                len(rows),
                self.sink.table,
                exc,
            )
        stored: list[Msg] = []
        for row, msg in zip(rows, msgs, strict=True):
            try:
                await self._write([row])
                stored.append(msg)
            except Exception as exc:
                if _retryable(exc):
                    raise
                refused.append(msg)
                await dead_letter(
                    self.bus,
                    msg,
                    stream=self.sink.stream,
                    service=SERVICE,
                    reason=f"database refused the row: {exc}",
                )
        return stored

    async def _write(self, rows: Sequence[Row]) -> None:
        started = time.perf_counter()
        try:
            async with self.pool.acquire() as conn:
                written = await self.sink.write(conn, rows)
        except Exception:
            WRITE_ERRORS.labels(self.sink.table).inc()
            raise
        BATCH_SECONDS.labels(self.sink.table).observe(time.perf_counter() - started)
        BATCH_ROWS.labels(self.sink.table).observe(len(rows))
        for table, count in written.items():
            ROWS_WRITTEN.labels(table).inc(count)
