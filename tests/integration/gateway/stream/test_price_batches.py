"""The gateway's live price stream over batch messages: every price of a batch is its own SSE event,
with a position id (stream sequence x POSITIONS_PER_MESSAGE + item index), and a client that resumes
from inside a batch gets exactly the rest of it, from the ring and from the stream."""

from __future__ import annotations

import asyncio

from inthegrid.domain.batch_codec import POSITIONS_PER_MESSAGE
from inthegrid.platform.bus import publish_each
from inthegrid.platform.price_messages import batched_price_messages
from tests.integration.gateway.test_gateway import sse_events
from tests.support.gateway import RING_SIZE, Gateway, clients_at_least, prices_for, sse_clients, wait_until


async def test_a_client_resumes_inside_a_batch_from_the_ring_and_from_the_stream(gateway: Gateway) -> None:
    gw = gateway
    baseline = sse_clients()
    reader = asyncio.create_task(sse_events(gw, "/api/stream/prices", 2))
    await wait_until(clients_at_least(baseline + 1), what="an SSE client")
    nl = prices_for("NL", 0, 8)
    await publish_each(gw.bus, batched_price_messages(nl))  # one message of eight prices
    first = await reader
    seq = (await gw.bus.js.stream_info("PRICES")).state.last_seq
    base = seq * POSITIONS_PER_MESSAGE
    assert [e[0] for e in first] == [base, base + 1]
    last_id = first[-1][0]

    from_ring = await sse_events(gw, "/api/stream/prices", 6, last_event_id=last_id)
    assert [e[0] for e in from_ring] == [base + i for i in range(2, 8)]
    assert [e[2]["delivery_start"] for e in from_ring] == [
        p.delivery_start.strftime("%Y-%m-%dT%H:%M:%SZ") for p in nl[2:]
    ]

    # One more message, more events than the ring holds (and fewer than a client's queue of 64).
    be = prices_for("BE", 0, 2 * RING_SIZE)
    await publish_each(gw.bus, batched_price_messages(be))
    from_stream = await sse_events(gw, "/api/stream/prices", 6 + len(be), last_event_id=last_id)
    after = (seq + 1) * POSITIONS_PER_MESSAGE
    assert [e[0] for e in from_stream] == [base + i for i in range(2, 8)] + [
        after + i for i in range(len(be))
    ]
    assert [e[2]["zone"] for e in from_stream] == ["NL"] * 6 + ["BE"] * len(be)
