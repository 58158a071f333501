"""Bus consumers that keep the live state and the SSE channels current (event-driven, no polling).

- PRICES: an ordered consumer starting at the last message per subject (the latest price of every
  zone and market), then following every new message.
- OPPORTUNITIES: an ordered consumer starting ``window`` ago (every opportunity that may still be
  open), then following.
- KV ``INTHEGRID_RULES``: a watcher giving the rules calculators run.

Ordered consumers are ephemeral and in memory on the server: a restarted gateway rebuilds its
state from the stream, and there is nothing to clean up.

Event ids: a price message may carry a batch of prices (domain/batch_codec.py) and an opportunity
message a batch of events (domain/event_batch_codec.py), so an event's id is its position, stream
sequence x POSITIONS_PER_MESSAGE + its index in the message: unique, increasing, and the message to
resume from is id // that.
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

from inthegrid.domain.batch_codec import POSITIONS_PER_MESSAGE
from inthegrid.domain.capacity_codec import decode_quantity
from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.domain.plausibility import DEFAULT_WINDOW, TimeWindow
from inthegrid.domain.prices import Price, PriceLimits
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
from inthegrid.platform.price_messages import decode_prices_on
from inthegrid.platform.rules_kv import rules_bucket

log = logging.getLogger(__name__)

# (stream sequence, subject, payload) -> the events the message carries
Decoder = Callable[[int, str, bytes], list[SseEvent]]


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

    def price_from(self, sequence: int, subject: str, data: bytes) -> list[SseEvent]:
        return [price_event(position, price) for position, price in self._prices(sequence, subject, data)]

    def _prices(self, sequence: int, subject: str, data: bytes) -> list[tuple[int, Price]]:
        """The message's valid prices with their positions; invalid ones are counted and skipped. A
        message on another zone's subject is refused whole, as the calculator and recorder do: it
        would otherwise pass every per-zone filter and permission as that zone's price."""
        try:
            decoded = decode_prices_on(subject, data, self.limits, self.window)
        except InTheGridError as exc:
            LIVE_MESSAGES.labels(PRICES_STREAM, "invalid").inc()
            log.warning("ignoring price message %d: %s", sequence, exc)
            return []
        if decoded.rejected:
            LIVE_MESSAGES.labels(PRICES_STREAM, "invalid").inc(len(decoded.rejected))
            log.warning("ignoring %d items of price message %d", len(decoded.rejected), sequence)
        first = sequence * POSITIONS_PER_MESSAGE
        return [(first + index, price) for index, price in decoded.prices]

    def opportunity_from(self, sequence: int, subject: str, data: bytes) -> list[SseEvent]:
        return [opportunity_event(position, event) for position, event in self._events(sequence, data)]

    def _events(self, sequence: int, data: bytes) -> list[tuple[int, OpportunityEvent]]:
        """The message's valid events (a v2 batch or a v1 single event) with their positions; invalid
        ones are counted and skipped."""
        try:
            decoded = decode_events(data, self.window)
        except InTheGridError as exc:
            LIVE_MESSAGES.labels(OPPORTUNITIES_STREAM, "invalid").inc()
            log.warning("ignoring opportunity message %d: %s", sequence, exc)
            return []
        if decoded.rejected:
            LIVE_MESSAGES.labels(OPPORTUNITIES_STREAM, "invalid").inc(len(decoded.rejected))
            log.warning("ignoring %d items of opportunity message %d", len(decoded.rejected), sequence)
        first = sequence * POSITIONS_PER_MESSAGE
        return [(first + index, event) for index, event in decoded.events]

    # --- live consumers ------------------------------------------------------------------------

    async def start(self, bus: Bus, window: timedelta) -> None:
        await self._follow(
            bus,
            PRICES_STREAM,
            f"{PRICE_SUBJECT_ROOT}.>",
            self.prices,
            self._on_price,
            ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT),
            POSITIONS_PER_MESSAGE,
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
            POSITIONS_PER_MESSAGE,
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
        apply: Callable[[int, str, bytes], None],
        config: ConsumerConfig,
        ids_per_message: int,
    ) -> None:
        before = await bus.js.stream_info(stream)
        booting = True

        async def on_message(msg: Msg) -> None:
            nonlocal booting
            sequence, pending = _sequence(msg)
            apply(sequence, msg.subject, msg.data)
            if booting and pending == 0:
                # Everything after the start-up snapshot reaches us from here on.
                booting = False
                channel.mark_contiguous(last_id(sequence, ids_per_message))

        sub = await bus.js.subscribe(
            subject, stream=stream, cb=on_message, ordered_consumer=True, config=config, idle_heartbeat=5.0
        )
        self._subs.append(sub)
        info = await sub.consumer_info()
        if booting and info.num_pending == 0 and sub.delivered == 0:
            booting = False
            channel.mark_contiguous(last_id(before.state.last_seq, ids_per_message))
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

    def _on_price(self, sequence: int, subject: str, data: bytes) -> None:
        prices = self._prices(sequence, subject, data)
        for position, price in prices:
            self.live.apply_price(price)
            self.prices.publish(price_event(position, price))
        if prices:
            LIVE_MESSAGES.labels(PRICES_STREAM, "applied").inc(len(prices))

    def _on_event(self, sequence: int, subject: str, data: bytes) -> None:
        events = self._events(sequence, data)
        for position, event in events:
            self.live.apply_event(event, position)
            self.opportunities.publish(opportunity_event(position, event))
        if events:
            LIVE_MESSAGES.labels(OPPORTUNITIES_STREAM, "applied").inc(len(events))

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


def last_id(sequence: int, ids_per_message: int) -> int:
    """The highest event id message ``sequence`` can carry."""
    return sequence * ids_per_message + ids_per_message - 1


async def replay_stream(
    bus: Bus,
    stream: str,
    subject: str,
    after_id: int,
    ids_per_message: int,
    decode: Decoder,
    deliver: Callable[[SseEvent], None],
) -> Any:
    """A per-connection ordered consumer of the events after ``after_id`` (an SSE resume the ring
    cannot serve): from the message holding the next id on."""

    async def on_message(msg: Msg) -> None:
        sequence, _ = _sequence(msg)
        for event in decode(sequence, msg.subject, msg.data):
            if event.sequence > after_id:
                deliver(event)

    start_sequence = (after_id + 1) // ids_per_message
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(1, start_sequence)
    )
    return await bus.js.subscribe(
        subject, stream=stream, cb=on_message, ordered_consumer=True, config=config, idle_heartbeat=5.0
    )
