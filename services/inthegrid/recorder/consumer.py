"""One durable pull consumer feeding one table family: fetch a batch, decode, write, then ack (the next
batch is fetched meanwhile, fetching.py, and decoded while this one is written).

Several batches are written at once (``writers``), each in its own transaction on its own
connection: a write mostly waits for PostgreSQL, for its COPY and its commit's WAL flush, and
two writers raised the recorder's throughput by about a third (bench/RESULTS.md). Batches may therefore
commit out of order; the store's merge gives the same rows in any order (store.py).

Acks go out only after the batch's transaction committed, so a crash at any point leaves the
messages unacked and JetStream redelivers them; the natural keys make the second write a no-op.
While the database is unreachable the batch in hand is retried with backoff (and kept alive with
``in_progress`` so JetStream does not hand it to anybody else), readiness reports the database
down, and nothing further is fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from inthegrid.domain.batch_codec import RejectedItem
from inthegrid.errors import DecodeError
from inthegrid.platform.bus import (
    Bus,
    dead_letter,
    dead_letter_data,
    dead_letter_items,
    stream_sequence,
)
from inthegrid.platform.db import is_transient
from inthegrid.platform.metrics import MESSAGES_CONSUMED, HealthState
from inthegrid.platform.runtime import wait_or_stop
from inthegrid.recorder.fetching import overlapped_batches
from inthegrid.recorder.metrics import BATCH_ROWS, BATCH_SECONDS, ROWS_WRITTEN, WRITE_ERRORS

log = logging.getLogger(__name__)

SERVICE = "recorder"
# JetStream redelivers after ack_wait (30 s); telling it "still working" well before keeps the batch ours.
KEEPALIVE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 5.0
INITIAL_ROWS_PER_MESSAGE = 100

Row = tuple[Any, ...]
Writer = Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[dict[str, int]]]


@dataclass(frozen=True, slots=True)
class DecodedRows:
    """The rows one message yields (with the item index of each) and its rejected items."""

    rows: Sequence[Row]
    items: Sequence[int]
    rejected: Sequence[RejectedItem] = ()


@dataclass(slots=True)
class Delivery:
    """One message in hand and the rows it still has to store."""

    msg: Msg
    rows: list[Row]
    items: list[int]
    single: bool  # one price or event: refused as a whole message, not as an item

    def keep(self, pairs: Sequence[tuple[Row, int]]) -> None:
        self.rows = [row for row, _ in pairs]
        self.items = [item for _, item in pairs]


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
    decode: Callable[[Msg], DecodedRows]  # raises DecodeError for a message that can never be stored
    write: Writer


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
        writers: int,
    ) -> None:
        self.bus, self.pool, self.sink = bus, pool, sink
        self.writers = writers
        # Published at 0 from the start, so rate() over it answers (0) before the first failure.
        WRITE_ERRORS.labels(sink.table)
        self.batch, self.flush_seconds = batch, flush_seconds
        self.stop, self.health = stop, health
        # A message holds one row or a batch of up to MAX_BATCH_PRICES: fetch as many messages as
        # make about ``batch`` rows at the last batch's rows per message (a guess to start with),
        # so a transaction and the decoded rows in memory stay near ``batch`` rows either way.
        self.rows_per_message = float(INITIAL_ROWS_PER_MESSAGE)

    def fetch_size(self) -> int:
        return max(1, int(self.batch / self.rows_per_message))

    async def run(self, sub: JetStreamContext.PullSubscription) -> None:
        """Consume until stop. While up to ``writers`` batches are being written, each in its own
        transaction on its own connection (a write mostly waits for PostgreSQL: its COPY, its commit's
        WAL flush), the next is decoded and the one after fetched. The batches in hand when stop
        arrives are finished first."""
        batches = overlapped_batches(sub, self.fetch_size, self.flush_seconds, self.stop, self.sink.durable)
        writing: set[asyncio.Task[None]] = set()
        try:
            async with contextlib.aclosing(batches):
                async for msgs in batches:
                    deliveries = await self.decode(msgs)
                    while len(writing) >= self.writers:
                        done, writing = await asyncio.wait(writing, return_when=asyncio.FIRST_COMPLETED)
                        for task in done:
                            task.result()  # a write that failed for good ends the recorder
                    writing.add(
                        asyncio.create_task(self.commit(deliveries), name=f"write-{self.sink.durable}")
                    )
            for task in list(writing):
                writing.discard(task)
                await task
        finally:
            # Only when failing: a write cut short leaves its messages unacked, for redelivery.
            for task in writing:
                if not task.done():
                    task.cancel()
            for task in writing:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def decode(self, msgs: Sequence[Msg]) -> list[Delivery]:
        """The rows of each message; what can never be stored is dead-lettered (and its message
        settled) here."""
        deliveries: list[Delivery] = []
        for msg in msgs:
            try:
                decoded = self.sink.decode(msg)
            except DecodeError as exc:
                await dead_letter(self.bus, msg, stream=self.sink.stream, service=SERVICE, reason=str(exc))
                continue
            # A bad item of a batch is dead-lettered alone; the message's other rows are stored.
            await dead_letter_items(self.bus, msg, decoded.rejected, stream=self.sink.stream, service=SERVICE)
            if decoded.rows:
                single = len(decoded.rows) == 1 and not decoded.rejected
                deliveries.append(Delivery(msg, list(decoded.rows), list(decoded.items), single))
            else:
                await msg.ack()  # every item dead-lettered: nothing left to store
        self.rows_per_message = max(1.0, sum(len(d.rows) for d in deliveries) / len(msgs))
        return deliveries

    async def commit(self, deliveries: list[Delivery]) -> None:
        """Store the rows in one transaction, then ack their messages."""
        if not deliveries:
            return
        stored = await self._store_with_retry(deliveries)
        for delivery in stored:
            await delivery.msg.ack()
        MESSAGES_CONSUMED.labels(SERVICE, self.sink.stream).inc(len(stored))

    async def _store_with_retry(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Deliveries whose rows are committed; [] when stopped while the database was down (nak'd)."""
        delay = 0.2
        kept_alive = time.monotonic()
        refused: list[Delivery] = []
        while True:
            try:
                stored = await self._store(deliveries, refused)
                self.health.set("database", True)
                return stored
            except Exception as exc:
                if not _retryable(exc):
                    raise
                # A deadlock between two writers (corrections of the same prices in two batches at
                # once) is a race that the retry settles, not an outage: readiness stays up.
                if not isinstance(exc, asyncpg.TransactionRollbackError):
                    self.health.set("database", False)
                log.warning(
                    "database write to %s failed (%s); retrying in %.1fs", self.sink.table, exc, delay
                )
            if refused:
                # Messages dead-lettered before the outage cut the attempt short are settled (term'd):
                # retrying them would store a refused row and ack a message twice.
                gone = {id(d) for d in refused}
                deliveries = [d for d in deliveries if id(d) not in gone]
                refused.clear()
            if self.stop.is_set():
                # Hand the batch back at once so the next recorder need not wait for ack_wait.
                for delivery in deliveries:
                    await delivery.msg.nak()
                return []
            if time.monotonic() - kept_alive > KEEPALIVE_SECONDS:
                for delivery in deliveries:
                    await delivery.msg.in_progress()
                kept_alive = time.monotonic()
            await wait_or_stop(self.stop, delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _store(self, deliveries: list[Delivery], refused: list[Delivery]) -> list[Delivery]:
        """Write the batch; if the database refuses it (bad data, not an outage), go message by
        message, then row by row within a refused batch message, and dead-letter what it refuses (a
        single-price message whole, appended to ``refused``; an item of a batch alone). Transient
        errors go to the retry loop."""
        try:
            await self._write([row for d in deliveries for row in d.rows])
            return deliveries
        except Exception as exc:
            if _retryable(exc):
                raise
            log.error(
                "database refused a batch of %d messages for %s (%s); writing message by message",
                len(deliveries),
                self.sink.table,
                exc,
            )
        stored: list[Delivery] = []
        for delivery in deliveries:
            try:
                await self._write(delivery.rows)
                stored.append(delivery)
                continue
            except Exception as exc:
                if _retryable(exc):
                    raise
                if delivery.single:
                    refused.append(delivery)
                    await dead_letter(
                        self.bus,
                        delivery.msg,
                        stream=self.sink.stream,
                        service=SERVICE,
                        reason=f"database refused the row: {exc}",
                    )
                    continue
            await self._store_rows(delivery)
            stored.append(delivery)
        return stored

    async def _store_rows(self, delivery: Delivery) -> None:
        """Row by row; a refused row's item is dead-lettered and dropped from the delivery, so a
        retry after an outage neither stores it nor dead-letters it twice."""
        pairs = list(zip(delivery.rows, delivery.items, strict=True))
        kept: list[tuple[Row, int]] = []
        for position, (row, item) in enumerate(pairs):
            try:
                await self._write([row])
                kept.append((row, item))
            except Exception as exc:
                if _retryable(exc):
                    delivery.keep(kept + pairs[position:])
                    raise
                await dead_letter_data(
                    self.bus,
                    delivery.msg.subject,
                    delivery.msg.data,
                    stream=self.sink.stream,
                    service=SERVICE,
                    reason=f"item {item}: database refused the row: {exc}",
                    sequence=stream_sequence(delivery.msg),
                    item=item,
                )
        delivery.keep(kept)

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
