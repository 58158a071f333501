"""Bus consumers that keep the live state and the SSE channels current (event-driven, no polling).

- PRICES: an ordered consumer starting at the last message per subject (the latest price of every
  zone and market), then following every new message.
- OPPORTUNITIES: an ordered consumer starting ``window`` ago (every opportunity that may still be
  open), then following.
- KV ``INTHEGRID_RULES``: a watcher giving the rules calculators run.

Ordered consumers are ephemeral and in memory on the server: a restarted gateway rebuilds its
state from the stream, and there is nothing to clean up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.kv import KeyValue

from inthegrid.domain.capacity_codec import decode_quantity
from inthegrid.domain.codec import decode_event, decode_price
from inthegrid.domain.plausibility import DEFAULT_WINDOW, TimeWindow
from inthegrid.domain.prices import PriceLimits
from inthegrid.domain.rule_codec import decode_rule_document
from inthegrid.domain.rules import compile_rule
from inthegrid.errors import InTheGridError
from inthegrid.gateway.live.state import LiveState
from inthegrid.gateway.metrics import LIVE_MESSAGES
from inthegrid.gateway.stream.channels import Channel, SseEvent, opportunity_event, price_event
from inthegrid.platform.bus import (
    CAPACITIES_STREAM,
    CAPACITY_SUBJECT_ROOT,
    OPPORTUNITIES_STREAM,
    OPPORTUNITY_SUBJECT_ROOT,
    PRICE_SUBJECT_ROOT,
    PRICES_STREAM,
    RULES_BUCKET,
    Bus,
)
from inthegrid.platform.rules_kv import rules_bucket

log = logging.getLogger(__name__)

Decoder = Callable[[int, bytes], SseEvent | None]


def _sequence(msg: Msg) -> tuple[int, int]:
    meta = msg.metadata
    return int(meta.sequence.stream), int(meta.num_pending)


class LiveFeeder:
    """Applies bus messages to the live state and publishes them to the SSE channels."""

    def __init__(
        self,
        live: LiveState,
        prices: Channel,
        opportunities: Channel,
        limits: PriceLimits,
        window: TimeWindow = DEFAULT_WINDOW,
    ) -> None:
        self.live = live
        self.prices = prices
        self.opportunities = opportunities
        self.limits = limits
        self.window = window
        self._subs: list[Any] = []
        self._watch_task: asyncio.Task[None] | None = None

    # --- decoding (shared with per-connection replays) ----------------------------------------

    def price_from(self, sequence: int, data: bytes) -> SseEvent | None:
        try:
            price = decode_price(data, self.limits, self.window)
        except InTheGridError as exc:
            LIVE_MESSAGES.labels(PRICES_STREAM, "invalid").inc()
            log.warning("ignoring price message %d: %s", sequence, exc)
            return None
        return price_event(sequence, price)

    def opportunity_from(self, sequence: int, data: bytes) -> SseEvent | None:
        try:
            event = decode_event(data, self.window)
        except InTheGridError as exc:
            LIVE_MESSAGES.labels(OPPORTUNITIES_STREAM, "invalid").inc()
            log.warning("ignoring opportunity message %d: %s", sequence, exc)
            return None
        return opportunity_event(sequence, event)

    # --- live consumers ------------------------------------------------------------------------

    async def start(self, bus: Bus, window: timedelta) -> None:
        await self._follow(
            bus,
            PRICES_STREAM,
            f"{PRICE_SUBJECT_ROOT}.>",
            self.prices,
            self._on_price,
            ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT),
        )
        await self._follow(
            bus,
            OPPORTUNITIES_STREAM,
            f"{OPPORTUNITY_SUBJECT_ROOT}.>",
            self.opportunities,
            self._on_event,
            ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=datetime.now(UTC) - window
            ),
        )
        await self._follow_capacities(bus)
        kv = await rules_bucket(bus)
        self._watch_task = asyncio.create_task(self._watch_rules(kv), name="gateway-rules-watch")

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await sub.unsubscribe()
        self._subs.clear()

    async def _follow(
        self,
        bus: Bus,
        stream: str,
        subject: str,
        channel: Channel,
        apply: Callable[[int, bytes], None],
        config: ConsumerConfig,
    ) -> None:
        before = await bus.js.stream_info(stream)
        booting = True

        async def on_message(msg: Msg) -> None:
            nonlocal booting
            sequence, pending = _sequence(msg)
            apply(sequence, msg.data)
            if booting and pending == 0:
                # Everything after the start-up snapshot reaches us from here on.
                booting = False
                channel.mark_contiguous(sequence)

        sub = await bus.js.subscribe(
            subject, stream=stream, cb=on_message, ordered_consumer=True, config=config, idle_heartbeat=5.0
        )
        self._subs.append(sub)
        info = await sub.consumer_info()
        if booting and info.num_pending == 0 and sub.delivered == 0:
            booting = False
            channel.mark_contiguous(before.state.last_seq)
        log.info("following %s (%d messages to catch up)", stream, info.num_pending)

    async def _follow_capacities(self, bus: Bus) -> None:
        """Every published capacity, then each new one (no SSE channel: they are read over REST)."""

        async def on_message(msg: Msg) -> None:
            try:
                self.live.apply_capacity(decode_quantity(msg.data))
            except InTheGridError as exc:
                LIVE_MESSAGES.labels(CAPACITIES_STREAM, "invalid").inc()
                log.warning("ignoring capacity message: %s", exc)
                return
            LIVE_MESSAGES.labels(CAPACITIES_STREAM, "applied").inc()

        sub = await bus.js.subscribe(
            f"{CAPACITY_SUBJECT_ROOT}.>",
            stream=CAPACITIES_STREAM,
            cb=on_message,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
            idle_heartbeat=5.0,
        )
        self._subs.append(sub)

    def _on_price(self, sequence: int, data: bytes) -> None:
        try:
            price = decode_price(data, self.limits, self.window)
        except InTheGridError as exc:
            LIVE_MESSAGES.labels(PRICES_STREAM, "invalid").inc()
            log.warning("ignoring price message %d: %s", sequence, exc)
            return
        self.live.apply_price(price)
        self.prices.publish(price_event(sequence, price))
        LIVE_MESSAGES.labels(PRICES_STREAM, "applied").inc()

    def _on_event(self, sequence: int, data: bytes) -> None:
        try:
            event = decode_event(data, self.window)
        except InTheGridError as exc:
            LIVE_MESSAGES.labels(OPPORTUNITIES_STREAM, "invalid").inc()
            log.warning("ignoring opportunity message %d: %s", sequence, exc)
            return
        self.live.apply_event(event, sequence)
        self.opportunities.publish(opportunity_event(sequence, event))
        LIVE_MESSAGES.labels(OPPORTUNITIES_STREAM, "applied").inc()

    # --- rules ---------------------------------------------------------------------------------

    async def _watch_rules(self, kv: KeyValue) -> None:
        while True:
            try:
                watcher = await kv.watchall()
                async for entry in watcher:
                    if entry is None:  # initial values delivered
                        continue
                    self.apply_rule_entry(entry.key, entry.value, entry.operation)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watch must survive NATS hiccups; it restarts from the snapshot
                log.warning("rules watch failed (%s); restarting", exc)
                await asyncio.sleep(1.0)

    def apply_rule_entry(self, key: str, value: bytes | None, operation: str | None) -> None:
        if operation in ("DEL", "PURGE") or not value:
            self.live.set_rule(key, None)
            log.info("rule %s removed", key)
            return
        try:
            doc = decode_rule_document(value, key)
            name, rule = doc.name, compile_rule(doc.name, doc.spec)
        except InTheGridError as exc:
            log.warning("ignoring rule %s from %s: %s", key, RULES_BUCKET, exc)
            return
        self.live.set_rule(name, rule)
        log.info("rule %s running with %d pairs", name, len(rule.pairs))


async def replay_stream(
    bus: Bus,
    stream: str,
    subject: str,
    start_sequence: int,
    decode: Decoder,
    deliver: Callable[[SseEvent], None],
) -> Any:
    """A per-connection ordered consumer from ``start_sequence`` (an SSE resume the ring cannot serve)."""

    async def on_message(msg: Msg) -> None:
        sequence, _ = _sequence(msg)
        event = decode(sequence, msg.data)
        if event is not None:
            deliver(event)

    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(1, start_sequence)
    )
    return await bus.js.subscribe(
        subject, stream=stream, cb=on_message, ordered_consumer=True, config=config, idle_heartbeat=5.0
    )
