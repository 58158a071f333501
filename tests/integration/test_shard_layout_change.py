"""A rule's shard layout changes from three replicas to one: the new calculator deletes the three old
shards' durable consumers on PRICES once nobody reads them, and nothing else (another rule's shards,
the recorder's). An old shard still pulling (its pod not gone yet) keeps its consumer until it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from inthegrid.calculator.shard_consumers import CLEANUP_SECONDS, IDLE_SECONDS, durable_name
from inthegrid.platform.bus import PRICE_SUBJECT_ROOT, PRICES_STREAM, Bus, ensure_streams
from inthegrid.platform.settings import CommonSettings
from tests.support.faults import Monitor, calculator_process, wait_for

RULE = "layout"
RECORDER_DURABLE = "recorder-prices"
# Bounds for conditions: idle for IDLE_SECONDS, then the next check; a busy 2-core machine adds more.
DELETED_SECONDS = IDLE_SECONDS + 2 * CLEANUP_SECONDS + 60


@pytest.fixture
async def monitor(nats_url: str) -> AsyncIterator[Monitor]:
    m = await Monitor.connect(nats_url)
    yield m
    await m.close()


async def _exists(monitor: Monitor, durable: str) -> bool:
    try:
        await monitor.js.consumer_info(PRICES_STREAM, durable)
    except NotFoundError:
        return False
    return True


async def _pull_forever(monitor: Monitor, durable: str) -> None:
    """What a still-running shard pod does: pull with a 1 s timeout, again and again."""
    sub = await monitor.js.pull_subscribe_bind(durable=durable, stream=PRICES_STREAM)
    while True:
        with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
            await sub.fetch(1, timeout=1)


async def test_three_shards_then_one_deletes_only_the_old_shards_idle_consumers(
    nats_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    await ensure_streams(Bus(monitor.nc, monitor.js), CommonSettings())
    old = [durable_name(RULE, i, 3) for i in range(3)]
    kept = [RECORDER_DURABLE, *(durable_name("neighbour", i, 3) for i in range(3)), durable_name("neighbour")]
    for durable in old + kept:
        config = ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT, filter_subject=f"{PRICE_SUBJECT_ROOT}.>"
        )
        await monitor.js.add_consumer(PRICES_STREAM, config)
    still_running = asyncio.create_task(_pull_forever(monitor, old[2]))
    calculator = calculator_process(tmp_path, nats_url, {"INTHEGRID_RULE_NAME": RULE})
    calculator.start(wait_ready=0)
    try:

        async def idle_ones_deleted() -> bool:
            if not await _exists(monitor, durable_name(RULE)):
                return False
            return not any([await _exists(monitor, d) for d in old[:2]])

        try:
            await wait_for(idle_ones_deleted, DELETED_SECONDS, "the idle old shards' consumers deleted", 0.5)
            assert await _exists(monitor, old[2]), "a consumer still read was deleted"
            still_running.cancel()  # that pod is gone too

            async def all_old_deleted() -> bool:
                return not await _exists(monitor, old[2])

            await wait_for(all_old_deleted, DELETED_SECONDS, "the last old shard's consumer deleted", 0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{calculator.log_tail()}") from None
        assert [await _exists(monitor, d) for d in kept] == [True] * len(kept)
        assert await _exists(monitor, durable_name(RULE))  # the new layout's own, untouched
    finally:
        still_running.cancel()
        calculator.terminate()
