"""The recorder's concurrent writers against a real nats-server and PostgreSQL: up to ``writers``
batches are in a write at once, never more, and every message is acked once its batch is written;
a real deadlock between two transactions is retried without marking the database down."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from nats.aio.msg import Msg

from inthegrid.platform.bus import PRICE_SUBJECT_ROOT, PRICES_STREAM, connect_bus, publish_all
from inthegrid.platform.metrics import HealthState
from inthegrid.platform.settings import RecorderSettings
from inthegrid.recorder.consumer import DecodedRows, Sink, StreamRecorder
from inthegrid.recorder.service import subscribe
from tests.support.polling import wait_until_async as wait_until


class Writes:
    """A sink's writer that holds each batch until ``writers`` batches are in a write together
    (so a recorder that wrote one at a time would never let the first one finish)."""

    def __init__(self, writers: int) -> None:
        self.writers = writers
        self.in_flight = self.most = self.batches = 0
        self.full = asyncio.Event()

    async def write(self, conn: asyncpg.Connection, rows: Sequence[Any]) -> dict[str, int]:
        assert await conn.fetchval("SELECT 1") == 1  # each write holds a connection of its own
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.in_flight == self.writers:
            self.full.set()
        try:
            await asyncio.wait_for(self.full.wait(), 10)
        finally:
            self.in_flight -= 1
            self.batches += 1
        return {}


def _one_row(msg: Msg) -> DecodedRows:
    return DecodedRows([(msg.data,)], [0])


async def _settled(sub: Any) -> Any:
    """The consumer's info once nothing is waiting for an ack, else None (not yet)."""
    info = await sub.consumer_info()
    return info if info.num_ack_pending == 0 else None


@pytest.mark.parametrize("writers", [1, 2, 3])
async def test_writers_batches_are_written_at_once_and_every_message_is_acked(
    nats_url: str, database_url: str, writers: int
) -> None:
    settings = RecorderSettings.model_validate({"nats_url": nats_url, "metrics_port": 0})
    bus = await connect_bus(settings, "test-writers")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=writers)
    writes = Writes(writers)
    sink = Sink("test", PRICES_STREAM, "test-writers", f"{PRICE_SUBJECT_ROOT}.>", _one_row, writes.write)
    stop = asyncio.Event()
    try:
        messages = 12
        await publish_all(
            bus, [(f"{PRICE_SUBJECT_ROOT}.day_ahead.FR", b"%d" % i, f"writers-{i}") for i in range(messages)]
        )
        sub = await subscribe(bus, sink, batch=1, writers=writers)
        recorder = StreamRecorder(
            bus, pool, sink, batch=1, flush_seconds=0.01, writers=writers, stop=stop, health=HealthState()
        )
        running = asyncio.create_task(recorder.run(sub))
        await wait_until(lambda: writes.batches == messages, 30, f"{messages} batches written")

        info = await wait_until(lambda: _settled(sub), 30, "every message acked")
        stop.set()
        await asyncio.wait_for(running, 10)
        assert writes.most == writers
        assert (info.num_pending, info.ack_floor.stream_seq) == (0, messages)
    finally:
        stop.set()
        await pool.close()
        await bus.close()


class RecordedHealth(HealthState):
    """Every readiness change, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[tuple[str, bool]] = []

    def set(self, name: str, ok: bool) -> None:
        self.changes.append((name, ok))
        super().set(name, ok)


class DeadlockingWrite:
    """A sink's writer whose first write deadlocks for real against a connection the test holds: it
    locks row 1, then waits for row 2, which the test locks first and which then waits for row 1."""

    def __init__(self) -> None:
        self.calls = 0
        self.row_1_locked = asyncio.Event()
        self.errors: list[BaseException] = []

    async def write(self, conn: asyncpg.Connection, rows: Sequence[Any]) -> dict[str, int]:
        self.calls += 1
        try:
            async with conn.transaction():
                await conn.execute("SELECT id FROM writers_locks WHERE id = 1 FOR UPDATE")
                if self.calls == 1:
                    self.row_1_locked.set()
                await conn.execute("SELECT id FROM writers_locks WHERE id = 2 FOR UPDATE")
        except Exception as exc:
            self.errors.append(exc)
            raise
        return {}


async def test_a_deadlock_is_retried_and_the_database_stays_ready(nats_url: str, database_url: str) -> None:
    settings = RecorderSettings.model_validate({"nats_url": nats_url, "metrics_port": 0})
    bus = await connect_bus(settings, "test-deadlock")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    holder = await asyncpg.connect(database_url)
    writes = DeadlockingWrite()
    health = RecordedHealth()
    sink = Sink("test", PRICES_STREAM, "test-deadlock", f"{PRICE_SUBJECT_ROOT}.>", _one_row, writes.write)
    stop = asyncio.Event()
    running: asyncio.Task[None] | None = None
    try:
        await holder.execute(
            "DROP TABLE IF EXISTS writers_locks; CREATE TABLE writers_locks (id int PRIMARY KEY);"
            "INSERT INTO writers_locks VALUES (1), (2)"
        )
        holding = holder.transaction()
        await holding.start()
        # Only the recorder's session looks for the deadlock (after its deadlock_timeout, 1 s by
        # default), so it is the one PostgreSQL aborts.
        await holder.execute("SET LOCAL deadlock_timeout = '1min'")
        await holder.execute("SELECT id FROM writers_locks WHERE id = 2 FOR UPDATE")
        await publish_all(bus, [(f"{PRICE_SUBJECT_ROOT}.day_ahead.FR", b"1", "deadlock-1")])
        sub = await subscribe(bus, sink, batch=1, writers=2)
        recorder = StreamRecorder(
            bus, pool, sink, batch=1, flush_seconds=0.01, writers=2, stop=stop, health=health
        )
        running = asyncio.create_task(recorder.run(sub))
        await asyncio.wait_for(writes.row_1_locked.wait(), 30)
        # Row 1 is the recorder's: waiting for it closes the cycle, and the recorder's attempt is
        # aborted, which frees row 1 for this connection.
        await holder.execute("SELECT id FROM writers_locks WHERE id = 1 FOR UPDATE")
        await holding.commit()

        info = await wait_until(lambda: _settled(sub), 30, "the message acked after the retry")
        assert info.ack_floor.stream_seq == 1
        assert [type(e) for e in writes.errors] == [asyncpg.DeadlockDetectedError]
        assert writes.calls == 2
        assert ("database", False) not in health.changes
        assert health.changes[-1] == ("database", True)
    finally:
        stop.set()
        if running is not None:
            await asyncio.wait_for(running, 10)
        await holder.close()
        await pool.close()
        await bus.close()
