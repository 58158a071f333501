"""A rule's shard layout changes from three replicas to one: the new calculator deletes the three old
shards' durable consumers on PRICES, and nothing else (another rule's shards, the recorder's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from inthegrid.calculator.shard_consumers import durable_name
from inthegrid.platform.bus import PRICE_SUBJECT_ROOT, PRICES_STREAM, Bus, ensure_streams
from inthegrid.platform.settings import CommonSettings
from tests.support.faults import Monitor, calculator_process, wait_for

RULE = "layout"
RECORDER_DURABLE = "recorder-prices"
START_SECONDS = 120  # a bound for a condition on a busy 2-core machine, not a speed requirement


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


async def test_three_shards_then_one_deletes_only_the_old_shards_consumers(
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
    calculator = calculator_process(tmp_path, nats_url, {"INTHEGRID_RULE_NAME": RULE})
    calculator.start(wait_ready=0)
    try:

        async def new_layout_in_place() -> bool:
            if not await _exists(monitor, durable_name(RULE)):
                return False
            return not any([await _exists(monitor, d) for d in old])

        try:
            await wait_for(new_layout_in_place, START_SECONDS, "the old shards' consumers deleted")
        except AssertionError:
            raise AssertionError(calculator.log_tail()) from None
        assert [await _exists(monitor, d) for d in kept] == [True] * len(kept)
    finally:
        calculator.terminate()
