"""One rule run by one calculator and by three shard replicas: exactly the same events on the same input.

The same simulated prices (the fault tests' feed: fixed seed and start) are stored once in PRICES; a
calculator runs the proof-of-concept rule as rule ``single``, and three calculator processes run it as
rule ``sharded`` with INTHEGRID_CALCULATOR_SHARD_COUNT=3 and indexes 0, 1, 2. Once every durable
consumer has acknowledged everything it was given, the events of the two rules must be the same,
each once: same pairs, periods, revisions, kinds and values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inthegrid.domain.codec import encode_price
from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.platform.bus import (
    OPPORTUNITIES_STREAM,
    OPPORTUNITY_SUBJECT_ROOT,
    PRICES_STREAM,
    Bus,
    ensure_streams,
    price_subject,
    publish_all,
)
from inthegrid.platform.settings import CommonSettings
from tests.support.faults import Monitor, calculator_process, simulated_prices, wait_for
from tests.support.processes import ServiceProcess

SHARDS = 3
PERIODS = 96  # a simulated day of quarter-hours: 480 prices, hundreds of events
CATCH_UP_SECONDS = 180  # a bound for a condition on a busy 2-core machine, not a speed requirement


@pytest.fixture
async def monitor(nats_url: str) -> AsyncIterator[Monitor]:
    m = await Monitor.connect(nats_url)
    yield m
    await m.close()


async def _events(monitor: Monitor, rule: str) -> list[OpportunityEvent]:
    """Every event the stream holds for one rule (an ephemeral consumer on the rule's subjects)."""
    subject = f"{OPPORTUNITY_SUBJECT_ROOT}.{rule}.>"
    sub = await monitor.js.pull_subscribe(subject, stream=OPPORTUNITIES_STREAM)
    out: list[OpportunityEvent] = []
    try:
        while True:
            msgs = await sub.fetch(1000, timeout=2)
            out += [e for m in msgs for _, e in decode_events(m.data).events]
            if msgs[-1].metadata.num_pending == 0:
                return out
    finally:
        await sub.unsubscribe()


def _comparable(events: list[OpportunityEvent]) -> list[tuple[object, ...]]:
    # Everything but the rule's name and the moment of detection (wall-clock time of each run).
    return sorted(
        ((e.pair, e.delivery_start, e.resolution.iso, e.revision, e.kind.value, e.value) for e in events),
        key=repr,
    )


async def test_three_shards_publish_exactly_the_events_of_one_calculator(
    nats_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    await ensure_streams(Bus(monitor.nc, monitor.js), CommonSettings())
    prices = simulated_prices(PERIODS)
    await publish_all(
        Bus(monitor.nc, monitor.js),
        [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices],
    )
    procs: dict[str, ServiceProcess] = {
        "calculator-single": calculator_process(
            tmp_path / "single", nats_url, {"INTHEGRID_RULE_NAME": "single"}
        )
    }
    for i in range(SHARDS):
        env = {
            "INTHEGRID_RULE_NAME": "sharded",
            "INTHEGRID_CALCULATOR_SHARD_COUNT": str(SHARDS),
            "INTHEGRID_CALCULATOR_SHARD_INDEX": str(i),
        }
        procs[f"calculator-sharded-shard-{i}-of-{SHARDS}"] = calculator_process(
            tmp_path / f"shard{i}", nats_url, env
        )
    try:
        for p in procs.values():
            p.start(wait_ready=0)  # all at once: each import takes seconds on a busy machine

        async def all_acknowledged() -> bool:
            for durable in procs:
                info = await monitor.js.consumer_info(PRICES_STREAM, durable)
                if info.delivered.stream_seq == 0 or info.num_pending or info.num_ack_pending:
                    return False
            return True

        try:
            await wait_for(
                all_acknowledged, CATCH_UP_SECONDS, "every calculator through the prices", every=0.2
            )
        except AssertionError:
            raise AssertionError("\n".join(f"--- {n}\n{p.log_tail()}" for n, p in procs.items())) from None
        # Each shard consumed only the zones its pairs need: shard 0 of 3 has no DE-LU pair.
        shard0 = await monitor.js.consumer_info(PRICES_STREAM, f"calculator-sharded-shard-0-of-{SHARDS}")
        assert shard0.config.filter_subjects is not None
        assert price_subject("day_ahead", "DE-LU") not in shard0.config.filter_subjects
        assert shard0.num_pending == 0 and shard0.delivered.consumer_seq < len(prices)

        single, sharded = await _events(monitor, "single"), await _events(monitor, "sharded")
        assert len(single) > 100, "the input must produce events to prove anything about them"
        assert len({e.message_id for e in sharded}) == len(sharded), "a shard published an event twice"
        assert _comparable(sharded) == _comparable(single)
    finally:
        for p in procs.values():
            p.terminate()
