"""SSE fan-out: ring resume, filters, bounded queues, dropped-event accounting, hopeless clients."""

from __future__ import annotations

import asyncio

from inthegrid.domain.opportunities import EventKind
from inthegrid.gateway.metrics import SSE_DROPPED
from inthegrid.gateway.stream.channels import Channel, EventFilter, SseClient, opportunity_event, price_event
from tests.unit.gateway.live.test_state import event, price


def prices_channel(ring: int = 100, queue: int = 10, hopeless: float = 5.0) -> Channel:
    return Channel("prices", ring, queue, hopeless)


async def drain(client: SseClient, n: int) -> list[int]:
    sequences: list[int] = []
    for _ in range(n):
        event = await client.next_event(0.1)
        assert event is not None, f"expected {n} events, got {len(sequences)}"
        sequences.append(event.sequence)
    return sequences


def test_frames_carry_the_stream_sequence_as_id() -> None:
    frame = price_event(41, price("DE", 60.0)).frame.decode()
    assert frame.startswith("id: 41\nevent: price\ndata: {") and frame.endswith("}\n\n")
    assert '"zone":"DE-LU"' in frame and '"sequence":41' in frame
    opp = opportunity_event(7, event(EventKind.OPENED, 1)).frame.decode()
    assert opp.startswith("id: 7\nevent: opportunity\n") and '"market_pair":"DE-LU-FR"' in opp


async def test_resume_from_the_ring_misses_nothing_and_repeats_nothing() -> None:
    channel = prices_channel()
    channel.mark_contiguous(0)
    for seq in range(1, 6):
        channel.publish(price_event(seq, price("DE", float(seq))))
    client = channel.new_client(EventFilter())
    assert channel.attach(client, 2)
    channel.publish(price_event(6, price("FR", 6.0)))
    assert await drain(client, 4) == [3, 4, 5, 6]
    assert await client.next_event(0.01) is None


async def test_resume_before_the_ring_asks_for_a_stream_replay() -> None:
    channel = prices_channel(ring=3)
    channel.mark_contiguous(0)
    for seq in range(1, 8):
        channel.publish(price_event(seq, price("DE", float(seq))))
    assert channel.covered_from == 4  # events 1..4 were evicted
    assert not channel.attach(channel.new_client(EventFilter()), 2)
    assert channel.attach(channel.new_client(EventFilter()), 4)
    unknown_start = prices_channel()  # never saw its snapshot end: cannot prove anything
    unknown_start.publish(price_event(9, price("DE", 1.0)))
    assert not unknown_start.attach(unknown_start.new_client(EventFilter()), 3)
    assert unknown_start.attach(unknown_start.new_client(EventFilter()), 9)  # up to date


async def test_filters_select_zones_rules_and_pairs() -> None:
    channel = Channel("opportunities", 10, 10, 5.0)
    by_zone = channel.new_client(EventFilter(zones=frozenset({"NL"})))
    by_pair = channel.new_client(EventFilter(pair=("DE-LU", "FR"), rule="proof-of-concept"))
    other_rule = channel.new_client(EventFilter(rule="other"))
    for c in (by_zone, by_pair, other_rule):
        channel.attach(c, None)
    channel.publish(opportunity_event(1, event(EventKind.OPENED, 1)))
    assert by_zone.queue.empty() and other_rule.queue.empty()
    assert await drain(by_pair, 1) == [1]


async def test_a_full_queue_drops_counts_and_then_disconnects_a_hopeless_client() -> None:
    channel = prices_channel(queue=2, hopeless=5.0)
    stalled, healthy = channel.new_client(EventFilter()), channel.new_client(EventFilter())
    channel.attach(stalled, None)
    channel.attach(healthy, None)
    before = SSE_DROPPED.labels("prices")._value.get()
    received = []
    for seq in range(1, 6):
        channel.publish(price_event(seq, price("DE", float(seq))))
        received += await drain(healthy, 1)  # the healthy client keeps up
    assert received == [1, 2, 3, 4, 5]
    assert SSE_DROPPED.labels("prices")._value.get() - before == 3
    assert stalled.gap and not stalled.closed.is_set()
    assert stalled.full_since is not None
    stalled.offer(price_event(6, price("DE", 6.0)), now=stalled.full_since + 5.0)
    assert stalled.closed.is_set() and stalled.close_reason == "hopeless"


async def test_reading_again_resets_the_hopeless_timer() -> None:
    channel = prices_channel(queue=1, hopeless=5.0)
    client = channel.new_client(EventFilter())
    channel.attach(client, None)
    channel.publish(price_event(1, price("DE", 1.0)))
    channel.publish(price_event(2, price("DE", 2.0)))
    assert client.full_since is not None
    await drain(client, 1)
    assert client.full_since is None


async def test_redelivered_sequences_are_not_published_twice() -> None:
    channel = prices_channel()
    client = channel.new_client(EventFilter())
    channel.attach(client, None)
    channel.publish(price_event(3, price("DE", 1.0)))
    channel.publish(price_event(3, price("DE", 1.0)))
    await asyncio.sleep(0)
    assert client.queue.qsize() == 1


async def test_after_a_drop_later_events_are_never_queued() -> None:
    # Sending a later event would move the client's resume point past the dropped one.
    channel = prices_channel(queue=2)
    client = channel.new_client(EventFilter())
    channel.attach(client, None)
    for seq in (1, 2, 3):
        channel.publish(price_event(seq, price("DE", float(seq))))
    assert await drain(client, 2) == [1, 2]
    channel.publish(price_event(4, price("DE", 4.0)))  # room again, but 3 was dropped
    assert client.queue.empty() and client.gap
