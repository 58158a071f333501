"""The recorder and opportunity event batches (contract v2) against a real nats-server and PostgreSQL: a
mix of v2 batches and v1 single events (a rolling upgrade) is stored once, a re-published batch is
dropped by JetStream, the same events under other message ids or redelivered to a new consumer store
nothing twice, and a bad item is dead-lettered alone with its reason while the rest is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY

from inthegrid.domain.codec import encode_event
from inthegrid.domain.economics import is_opportunity, value_pair
from inthegrid.domain.event_batch_codec import encode_event_batch
from inthegrid.domain.opportunities import OpportunityBook, OpportunityEvent
from inthegrid.domain.prices import Market, Resolution
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.platform.bus import (
    DEADLETTER_STREAM,
    OPPORTUNITIES_STREAM,
    Bus,
    connect_bus,
    opportunity_subject,
    publish_each,
)
from inthegrid.platform.event_messages import event_messages
from inthegrid.recorder.service import OPPORTUNITIES_DURABLE
from tests.integration.test_recorder import recorder, recorder_settings, wait_for_rows
from tests.support.polling import wait_until_async as wait_until

RULE = proof_of_concept_rule()
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DETECTED = T0 - timedelta(hours=10)


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    connected = await connect_bus(recorder_settings(nats_url=nats_url, metrics_port=0), "test-publisher")
    yield connected
    await connected.close()


def opened_and_updated(pair: tuple[str, str], periods: int) -> list[OpportunityEvent]:
    """For each hour from T0: an opened event, then (every other hour) an update with a wider spread."""
    book = OpportunityBook(RULE.name, Market.DAY_AHEAD)
    out: list[OpportunityEvent] = []
    for h in range(periods):
        for step, sell in enumerate((90.0, 95.0) if h % 2 == 0 else (90.0,)):
            value = value_pair(RULE.pairs[pair], 50.0, sell + h, 1.0)
            event = book.observe(
                pair,
                T0 + timedelta(hours=h),
                Resolution.PT60M,
                value,
                is_opportunity(RULE, value),
                DETECTED + timedelta(minutes=step),
            )
            assert event is not None
            out.append(event)
    return out


def singles(events: list[OpportunityEvent], suffix: str = "") -> list[tuple[str, bytes, str]]:
    """The v1 form: one message per event, as a calculator before the upgrade publishes."""
    return [(opportunity_subject(e.rule, e.pair), encode_event(e), e.message_id + suffix) for e in events]


async def _idle(bus: Bus) -> bool:
    try:
        info = await bus.js.consumer_info(OPPORTUNITIES_STREAM, OPPORTUNITIES_DURABLE)
    except NotFoundError:
        return False  # the recorder has not created it yet
    return info.num_pending == 0 and info.num_ack_pending == 0


async def _stored(url: str) -> tuple[list[tuple[str, str, datetime, int]], int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT pair_a, pair_b, delivery_start, revision FROM opportunity_events")
        opportunities = int(await conn.fetchval("SELECT count(*) FROM opportunities"))
    finally:
        await conn.close()
    return [(r["pair_a"], r["pair_b"], r["delivery_start"], r["revision"]) for r in rows], opportunities


def _keys(events: list[OpportunityEvent]) -> list[tuple[str, str, datetime, int]]:
    return [(*e.pair, e.delivery_start, e.revision) for e in events]


async def test_batches_and_single_events_are_stored_once_whatever_is_delivered_twice(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    batched = opened_and_updated(("DE-LU", "FR"), 120)  # more than one batch's worth
    old_form = opened_and_updated(("BE", "NL"), 6)
    batches = event_messages(RULE.name, batched)
    assert len(batches) >= 2
    async with recorder(nats_url, database_url):
        assert await publish_each(bus, batches) == [False] * len(batches)
        assert await publish_each(bus, singles(old_form)) == [False] * len(old_form)
        # A retry of the same batches has the same ids: JetStream keeps none of them.
        assert await publish_each(bus, batches) == [True] * len(batches)
        # The same events past deduplication (other ids, the other form): the natural keys absorb them.
        again = [(subject, payload, msg_id + ":again") for subject, payload, msg_id in batches]
        assert await publish_each(bus, again) == [False] * len(batches)
        assert await publish_each(bus, singles(batched[:10], ":v1")) == [False] * 10
        await wait_for_rows(database_url, "opportunity_events", len(batched) + len(old_form))
        await wait_until(lambda: _idle(bus), what="the event consumer to ack everything")
    rows, opportunities = await _stored(database_url)
    assert sorted(rows) == sorted(_keys([*batched, *old_form]))
    assert opportunities == 120 + 6

    # A new consumer is handed every message again (as after a lost ack state): nothing is stored twice.
    await bus.js.delete_consumer(OPPORTUNITIES_STREAM, OPPORTUNITIES_DURABLE)
    async with recorder(nats_url, database_url):
        await wait_until(lambda: _idle(bus), what="the new consumer to ack every message again")
    assert sorted((await _stored(database_url))[0]) == sorted(rows)


def _rejected() -> float:
    labels = {"service": "recorder", "stream": OPPORTUNITIES_STREAM}
    return REGISTRY.get_sample_value("inthegrid_bus_messages_rejected_total", labels) or 0.0


async def test_a_bad_item_is_dead_lettered_alone_and_the_rest_of_its_batch_is_stored(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    events = opened_and_updated(("DE-LU", "NL"), 3)
    doc = orjson.loads(encode_event_batch(events))
    doc["items"][1]["revision"] = 0
    subject = opportunity_subject(RULE.name, ("DE-LU", "NL"))
    before = _rejected()
    async with recorder(nats_url, database_url):
        await publish_each(bus, [(subject, orjson.dumps(doc), "events:with-a-bad-item")])
        await wait_for_rows(database_url, "opportunity_events", len(events) - 1)
        await wait_until(lambda: _idle(bus), what="the batch to be acked")
    rows, _ = await _stored(database_url)
    assert sorted(rows) == sorted(_keys([events[0], *events[2:]]))
    assert _rejected() == before + 1
    sequence = int((await bus.js.stream_info(OPPORTUNITIES_STREAM)).state.last_seq)
    kept = await bus.js.get_last_msg(DEADLETTER_STREAM, "inthegrid.deadletter.opportunities.recorder")
    assert kept.headers is not None
    assert (
        kept.headers["InTheGrid-Reason"].startswith("item 1: ")
        and "revision" in kept.headers["InTheGrid-Reason"]
    )
    assert kept.headers["InTheGrid-Original-Item"] == "1"
    assert kept.headers["Nats-Msg-Id"] == f"dlq:{OPPORTUNITIES_STREAM}:{sequence}:1"
    assert orjson.loads(kept.data)["items"] == [doc["items"][1]]  # the item alone, under its header
