"""The gateway's live opportunity stream over event batch messages (contract v2): every event of a batch is
its own SSE event with a position id (stream sequence x POSITIONS_PER_MESSAGE + item index), a client that
resumes from inside a batch gets exactly the rest of it, from the ring and from the stream, and a v1 single
event (an old calculator during a rolling upgrade) still arrives, at index 0 of its message."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from inthegrid.domain.batch_codec import POSITIONS_PER_MESSAGE
from inthegrid.domain.codec import encode_event
from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.platform.bus import opportunity_subject, publish_each
from inthegrid.platform.event_messages import event_messages
from tests.integration.gateway.test_gateway import opened, sse_events
from tests.support.gateway import RING_SIZE, T0, Gateway, clients_at_least, sse_clients, wait_until

PATH = "/api/stream/opportunities"


def periods(first: int, count: int) -> list[OpportunityEvent]:
    """Opened DE-LU/FR events of ``count`` quarter hours from period ``first`` on, spreads growing."""
    return [opened(50.0, 80.0 + i, T0 + timedelta(minutes=15 * i)) for i in range(first, first + count)]


async def last_sequence(gw: Gateway) -> int:
    return int((await gw.bus.js.stream_info("OPPORTUNITIES")).state.last_seq)


async def test_a_client_resumes_inside_an_event_batch_from_the_ring_and_from_the_stream(
    gateway: Gateway,
) -> None:
    gw = gateway
    baseline = sse_clients()
    reader = asyncio.create_task(sse_events(gw, PATH, 2))
    await wait_until(clients_at_least(baseline + 1), what="an SSE client")
    first_batch = periods(0, 8)
    messages = event_messages(first_batch[0].rule, first_batch)
    assert len(messages) == 1  # one message of eight events
    assert await publish_each(gw.bus, messages) == [False]
    first = await reader
    seq = await last_sequence(gw)
    base = seq * POSITIONS_PER_MESSAGE
    assert [e[0] for e in first] == [base, base + 1]
    assert all(e[1] == "opportunity" and e[2]["sequence"] == e[0] for e in first)
    last_id = first[-1][0]

    from_ring = await sse_events(gw, PATH, 6, last_event_id=last_id)
    assert [e[0] for e in from_ring] == [base + i for i in range(2, 8)]
    assert [e[2]["id"] for e in from_ring] == [e.opportunity_id for e in first_batch[2:]]

    # One more batch message, with more events than the ring holds ...
    more = periods(8, 2 * RING_SIZE)
    assert await publish_each(gw.bus, event_messages(more[0].rule, more)) == [False]
    # ... and a v1 single event, as a calculator not yet upgraded publishes it.
    single = opened(50.0, 99.0, T0 + timedelta(days=1))
    await publish_each(gw.bus, [(opportunity_subject(single.rule, single.pair), encode_event(single), "v1")])
    total = 6 + len(more) + 1
    from_stream = await sse_events(gw, PATH, total, last_event_id=last_id)
    after, single_seq = (seq + 1) * POSITIONS_PER_MESSAGE, seq + 2
    assert [e[0] for e in from_stream] == [
        *(base + i for i in range(2, 8)),
        *(after + i for i in range(len(more))),
        single_seq * POSITIONS_PER_MESSAGE,
    ]
    assert [e[2]["id"] for e in from_stream] == [e.opportunity_id for e in [*first_batch[2:], *more, single]]


async def test_a_re_published_batch_is_dropped_and_reaches_no_client_twice(gateway: Gateway) -> None:
    gw = gateway
    batch = periods(100, 5)
    messages = event_messages(batch[0].rule, batch)
    baseline = sse_clients()
    reader = asyncio.create_task(sse_events(gw, PATH, 6))
    await wait_until(clients_at_least(baseline + 1), what="an SSE client")
    assert await publish_each(gw.bus, messages) == [False]
    assert await publish_each(gw.bus, messages) == [True]  # the same id: JetStream drops it
    marker = opened(50.0, 99.0, T0 + timedelta(days=2))
    await publish_each(gw.bus, event_messages(marker.rule, [marker]))
    got = await reader
    assert [e[2]["id"] for e in got] == [e.opportunity_id for e in [*batch, marker]]
