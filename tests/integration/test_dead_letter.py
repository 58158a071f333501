"""The dead-letter stream keeps each rejected message once, truncated, within its byte limit."""

from __future__ import annotations

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from inthegrid.platform.bus import (
    DEADLETTER_STREAM,
    PRICES_STREAM,
    connect_bus,
    dead_letter,
    dead_letter_data,
    fetch_batch,
)
from inthegrid.platform.settings import CommonSettings

BAD = 20
LIMIT = 512


async def test_each_rejected_message_is_kept_once_truncated_with_its_reason(nats_url: str) -> None:
    settings = CommonSettings.model_validate(
        {
            "nats_url": nats_url,
            "connect_timeout_seconds": 10,
            "deadletter_max_message_bytes": LIMIT,
            "deadletter_max_bytes": 2 * 1024**2,
        }
    )
    bus = await connect_bus(settings, "dlq-test")
    try:
        info = await bus.js.stream_info(DEADLETTER_STREAM)
        assert info.config.max_bytes == 2 * 1024**2
        assert info.config.max_msg_size is not None and LIMIT < info.config.max_msg_size < 64 * 1024
        # Bad messages of up to 60 KB on the price subjects, as a careless client would publish them.
        for i in range(BAD):
            await bus.js.publish("inthegrid.prices.day_ahead.DE-LU", b"x" * (1000 * (i + 1)))
        # Two consumers (as the calculator and the recorder are) each reject every one of them.
        for service in ("calculator-test", "recorder"):
            config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL)
            sub = await bus.js.pull_subscribe(
                "inthegrid.prices.>", durable=service, stream=PRICES_STREAM, config=config
            )
            seen = 0
            while seen < BAD:
                for msg in await fetch_batch(sub, BAD, 2.0):
                    await dead_letter(bus, msg, stream=PRICES_STREAM, service=service, reason=f"bad {seen}")
                    seen += 1
        # A price a feed refused twice (no stream sequence): kept once too.
        for _ in range(2):
            await dead_letter_data(
                bus,
                "inthegrid.prices.day_ahead.FR",
                b"refused",
                stream=PRICES_STREAM,
                service="feed-x",
                reason="r",
            )
    finally:
        await bus.close()

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(DEADLETTER_STREAM)).state
        assert state.messages == BAD + 1, "each rejected message once, not once per consumer"
        assert state.bytes < (BAD + 1) * (LIMIT + 1024)
        sub = await js.pull_subscribe(
            "inthegrid.deadletter.>",
            stream=DEADLETTER_STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
        )
        letters = await sub.fetch(BAD + 1, timeout=5)
        sizes = set()
        for msg in letters:
            headers = msg.headers or {}
            assert len(msg.data) <= LIMIT
            assert headers["InTheGrid-Reason"] and headers["InTheGrid-Original-Subject"].startswith(
                "inthegrid."
            )
            original = int(headers["InTheGrid-Original-Size"])
            sizes.add(original)
            assert (headers.get("InTheGrid-Truncated") == "true") == (original > LIMIT)
        assert max(sizes) == 1000 * BAD
    finally:
        await nc.close()


async def test_a_feed_dead_letters_implausible_prices_instead_of_publishing_them(nats_url: str) -> None:
    from datetime import UTC, datetime

    from inthegrid.domain.plausibility import TimeWindow
    from inthegrid.domain.prices import make_price
    from inthegrid.feed.service import admit_prices

    now = datetime.now(UTC)
    good = make_price("FR", "2026-01-15T10:00Z", 50, source="s", published_at=now)
    old = make_price("FR", "2010-01-15T10:00Z", 50, source="s", published_at=now)
    settings = CommonSettings.model_validate({"nats_url": nats_url, "connect_timeout_seconds": 10})
    bus = await connect_bus(settings, "feed-test")
    try:
        assert await admit_prices(bus, "x", [good, old], TimeWindow()) == [good]
        kept = await bus.js.get_last_msg(DEADLETTER_STREAM, "inthegrid.deadletter.prices.feed-x")
        assert (
            kept.headers is not None and "before the earliest plausible" in kept.headers["InTheGrid-Reason"]
        )
        assert kept.headers["InTheGrid-Original-Subject"] == "inthegrid.prices.day_ahead.FR"
    finally:
        await bus.close()
