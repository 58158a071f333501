"""Calculator: a durable JetStream consumer of prices that publishes opportunity events.

Start-up restores state from the streams themselves (event sourcing): the events this rule already
published rebuild the opportunity book, recent prices rebuild the price table, and a reconcile
publishes whatever a crash left unpublished. Event ids are deterministic, so anything published
twice is dropped by JetStream's deduplication and by the recorder's natural keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge, Histogram

from inthegrid.calculator.alerts import WebhookAlerter
from inthegrid.calculator.rulefile import load_rule
from inthegrid.calculator.shard_consumers import clean_stale_durables, durable_name
from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.capacity_codec import decode_quantity
from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.domain.rules import CompiledRule
from inthegrid.domain.shards import shard_rule
from inthegrid.errors import DecodeError
from inthegrid.platform.bus import (
    CAPACITIES_STREAM,
    CAPACITY_SUBJECT_ROOT,
    OPPORTUNITY_SUBJECT_ROOT,
    PRICE_SUBJECT_ROOT,
    PRICES_STREAM,
    Bus,
    BusError,
    connect_bus,
    dead_letter,
    dead_letter_items,
    fetch_batch,
    price_subject,
    publish_all,
    token,
)
from inthegrid.platform.event_messages import event_messages
from inthegrid.platform.metrics import CONSUMER_PENDING, LATENCY_BUCKETS, MESSAGES_CONSUMED, HealthState
from inthegrid.platform.price_messages import decode_prices_on
from inthegrid.platform.rules_kv import announce_rule
from inthegrid.platform.settings import CalculatorSettings

log = logging.getLogger(__name__)

PRICES_PROCESSED = Counter("inthegrid_calculator_prices_processed_total", "Prices consumed", ["rule"])
EVALUATIONS = Counter("inthegrid_calculator_evaluations_total", "Pair values computed", ["rule"])
EVENTS = Counter(
    "inthegrid_calculator_events_published_total", "Opportunity events published", ["rule", "kind"]
)
OPEN = Gauge("inthegrid_calculator_open_opportunities", "Opportunities currently open", ["rule"])
DETECTION = Histogram(
    "inthegrid_calculator_detection_latency_seconds",
    "From a price being stored by JetStream to its opportunity event being acknowledged",
    ["rule"],
    buckets=LATENCY_BUCKETS,
)
TRACKED_PRICES = Gauge("inthegrid_calculator_tracked_prices", "Prices held in memory", ["rule"])


# Pruning and counting open opportunities scan everything held: once a second bounds memory and
# keeps the gauges fresh, while the small batches of a quiet stream (low latency) stay cheap.
HOUSEKEEPING_SECONDS = 1.0
# Prices valued per fetch at most: with batch messages a fetch of calculator_batch messages could hold
# 500 times as many prices, and their events are held in memory until published.
PRICES_PER_FETCH = 4096
# Longest wait for the acks of one publish of events before publishing them again (a stream leader
# election takes seconds; a lost publish is never answered).
PUBLISH_ACK_SECONDS = 15.0


def settings_durable(settings: CalculatorSettings, rule: str) -> str:
    return durable_name(rule, settings.calculator_shard_index, settings.calculator_shard_count)


def price_filter(rule: CompiledRule, shards: int) -> ConsumerConfig:
    """What the durable consumer delivers: every price of the rule's market, or for a shard only its
    pairs' zones (a shard of a rule over every zone needs a fraction of the stream)."""
    if shards == 1:
        return ConsumerConfig(filter_subject=f"{PRICE_SUBJECT_ROOT}.{rule.market.value}.>")
    return ConsumerConfig(filter_subjects=[price_subject(rule.market.value, z) for z in rule.zones])


async def restore(bus: Bus, state: CalculatorState, settings: CalculatorSettings) -> None:
    """Rebuild the book from this rule's published events and the price table from recent prices."""
    rule = state.rule
    events = await _replay(bus, f"{OPPORTUNITY_SUBJECT_ROOT}.{token(rule.name)}.>", None)
    window = settings.time_window
    for _, data in events:
        try:
            restored = decode_events(data, window)  # batches (v2) and single events (v1) alike
        except DecodeError:
            continue
        for _, event in restored.events:
            if event.pair in rule.pairs:  # a shard restores only its own pairs' opportunities
                state.book.restore(event)
    restored_at = datetime.now(UTC)
    since = restored_at - timedelta(hours=settings.calculator_horizon_hours)
    # Only the prices our durable consumer was already given: the rest it delivers next, in order. Reading
    # ahead to the stream's end would move the horizon past periods never valued, and a calculator far
    # behind (a long outage, a replay feed) would silently drop their opportunities.
    delivered = await _delivered_sequence(bus, settings_durable(settings, rule.name))
    prices = (
        await _replay(bus, f"{PRICE_SUBJECT_ROOT}.{rule.market.value}.>", since, until=delivered)
        if delivered
        else []
    )
    for subject, data in prices:
        try:
            decoded = decode_prices_on(subject, data, settings.price_limits, window)
        except DecodeError:
            continue
        for _, price in decoded.prices:
            state.remember(price, heard_at=restored_at)  # a source silent from now on is released later
    state.prune()
    log.info("restored %d events and %d prices for rule %s", len(events), len(prices), rule.name)


async def consume_capacities(bus: Bus, state: CalculatorState, stop: asyncio.Event, batch: int = 500) -> None:
    """Every published capacity from the stream's start, then each new one as it comes: each
    re-values the periods it covers. An ephemeral consumer: capacities are few, and reading them all
    again after a restart is how the state is rebuilt."""
    name = state.rule.name
    sub = await bus.js.pull_subscribe(
        f"{CAPACITY_SUBJECT_ROOT}.>",
        stream=CAPACITIES_STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=60.0,
            # Replicated like its stream: an ephemeral consumer lives as long as the calculator.
            num_replicas=bus.stream_replicas,
        ),
    )
    try:
        while not stop.is_set():
            msgs = await fetch_batch(sub, batch, 1.0)
            events: list[OpportunityEvent] = []
            now = datetime.now(UTC)
            for msg in msgs:
                try:
                    quantity = decode_quantity(msg.data)
                except DecodeError as exc:
                    await dead_letter(
                        bus, msg, stream=CAPACITIES_STREAM, service=f"calculator-{name}", reason=str(exc)
                    )
                    continue
                events.extend(state.on_capacity(quantity, now))
            await publish_events(bus, name, events)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _delivered_sequence(bus: Bus, durable: str) -> int:
    """Stream sequence of the last price the durable consumer delivered; 0 before its first start."""
    try:
        info = await bus.js.consumer_info(PRICES_STREAM, durable)
    except NotFoundError:
        return 0
    return int(info.delivered.stream_seq or 0) if info.delivered else 0


async def _replay(
    bus: Bus, subject: str, since: datetime | None, until: int | None = None
) -> list[tuple[str, bytes]]:
    """Every message on subject (since a time) up to stream sequence ``until`` (default: the stream's
    current end), via an ephemeral consumer."""
    stream = await bus.js.find_stream_name_by_subject(subject)
    info = await bus.js.stream_info(stream)
    if info.state.messages == 0:
        return []
    config = ConsumerConfig(
        filter_subject=subject,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since,
    )
    sub = await bus.js.pull_subscribe(subject, stream=stream, config=config)
    out: list[tuple[str, bytes]] = []
    try:
        while True:
            msgs = await fetch_batch(sub, 1000, 0.5)
            if not msgs:
                break
            out.extend(
                (m.subject, m.data) for m in msgs if until is None or m.metadata.sequence.stream <= until
            )
            last = msgs[-1].metadata
            if last.num_pending == 0 or (until is not None and last.sequence.stream >= until):
                break
    finally:
        await sub.unsubscribe()
    return out


async def publish_events(bus: Bus, rule: str, events: list[OpportunityEvent]) -> None:
    """Publish until JetStream acknowledged every event (the ids make a re-publish harmless): on a
    cluster, publishes in flight to a stream leader that dies are never answered, and the new
    leader takes them again once elected. The prices stay unacknowledged meanwhile.

    One message per pair carries the events of this evaluation (contract v2, split by its bounds): with one
    message per event, the recorder's event backlog grew from 5,000 prices/s on (bench/RESULTS.md)."""
    if not events:
        return
    items = event_messages(rule, events)
    delay = 0.2
    while True:
        try:
            await publish_all(bus, items, ack_timeout=PUBLISH_ACK_SECONDS)
            break
        except (BusError, TimeoutError) as exc:
            log.warning("publishing %d events failed (%s); retrying in %.1fs", len(events), exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.kind.value] = kinds.get(e.kind.value, 0) + 1
    for kind, count in kinds.items():
        EVENTS.labels(rule, kind).inc(count)


async def run_calculator(settings: CalculatorSettings, stop: asyncio.Event, health: HealthState) -> None:
    shards = settings.calculator_shard_count
    rule = shard_rule(
        load_rule(settings.rule_name, settings.rule_file), settings.calculator_shard_index, shards
    )
    state = CalculatorState(rule, timedelta(hours=settings.calculator_horizon_hours))
    name = rule.name
    health.set("nats", False)
    bus = await connect_bus(settings, f"calculator-{name}", stop=stop, health=health)
    alerter = (
        WebhookAlerter(settings.alert_webhook_url.get_secret_value()) if settings.alert_webhook_url else None
    )
    try:
        await announce_rule(bus, name, rule.spec)
        await restore(bus, state, settings)
        missing = state.reconcile(datetime.now(UTC))
        await publish_events(bus, name, missing)
        if missing:
            log.info("published %d events a previous run had not", len(missing))
        durable = settings_durable(settings, name)
        wanted = price_filter(rule, shards)
        sub = await bus.js.pull_subscribe(
            wanted.filter_subject or "",
            durable=durable,
            stream=PRICES_STREAM,
            config=ConsumerConfig(
                filter_subjects=wanted.filter_subjects,
                ack_policy=AckPolicy.EXPLICIT,
                # Short: a calculator acks within milliseconds, and after a crash its unacked prices
                # are redelivered once this expires (the restart's recovery time).
                ack_wait=10,
                max_ack_pending=50_000,
                deliver_policy=DeliverPolicy.ALL,
            ),
        )
        health.set("nats", True)
        log.info(
            "calculator %s (shard %d of %d) watching %d pairs of %s",
            name,
            settings.calculator_shard_index + 1,
            shards,
            len(rule.pairs),
            ", ".join(rule.zones),
        )
        lag_task = asyncio.create_task(_watch_lag(sub, name, stop))
        # An old shard layout's consumers hold every new price pending for nobody: gone once idle.
        cleanup_task = asyncio.create_task(clean_stale_durables(bus, name, shards, stop))
        capacity_task = asyncio.create_task(consume_capacities(bus, state, stop))
        housekept = 0.0
        per_message = 1.0  # prices per message in the last fetch (batches hold up to 500)
        try:
            while not stop.is_set():
                size = max(1, min(settings.calculator_batch, int(PRICES_PER_FETCH / per_message)))
                msgs = await fetch_batch(sub, size, 1.0)
                if msgs:
                    per_message = max(1.0, await _process(bus, state, settings, msgs, alerter) / len(msgs))
                if time.monotonic() - housekept >= HOUSEKEEPING_SECONDS:
                    housekept = time.monotonic()
                    _housekeep(state)
                if capacity_task.done():
                    capacity_task.result()  # a failed capacity consumer fails the calculator
        finally:
            lag_task.cancel()
            capacity_task.cancel()
            cleanup_task.cancel()
    finally:
        if alerter is not None:
            await alerter.close()
        await bus.close()


async def _process(
    bus: Bus,
    state: CalculatorState,
    settings: CalculatorSettings,
    msgs: Sequence[Msg],
    alerter: WebhookAlerter | None,
) -> int:
    """Value the prices of ``msgs``, publish the events, then ack; returns how many prices."""
    name = state.rule.name
    now = datetime.now(UTC)
    events: list[OpportunityEvent] = []
    stored_at: list[float] = []
    good: list[Msg] = []
    before = state.evaluations
    window = settings.time_window
    service = f"calculator-{name}"
    prices = 0
    for msg in msgs:
        try:
            decoded = decode_prices_on(msg.subject, msg.data, settings.price_limits, window)
        except DecodeError as exc:
            await dead_letter(bus, msg, stream=PRICES_STREAM, service=service, reason=str(exc))
            continue
        # One bad item of a batch is dead-lettered alone; the message is acked for the others.
        await dead_letter_items(bus, msg, decoded.rejected, stream=PRICES_STREAM, service=service)
        for _, price in decoded.prices:
            new = state.on_price(price, now)
            if new:
                events.extend(new)
                stored_at.append(
                    msg.metadata.timestamp.timestamp() if msg.metadata.timestamp else now.timestamp()
                )
        prices += len(decoded.prices)
        good.append(msg)
    # Events first, acks after: a crash in between redelivers the prices and re-derives the events.
    await publish_events(bus, name, events)
    done = time.time()
    for ts in stored_at:
        DETECTION.labels(name).observe(max(0.0, done - ts))
    for msg in good:
        await msg.ack()
    PRICES_PROCESSED.labels(name).inc(prices)
    MESSAGES_CONSUMED.labels(f"calculator-{name}", PRICES_STREAM).inc(len(good))
    EVALUATIONS.labels(name).inc(state.evaluations - before)
    if alerter is not None:
        for e in events:
            alerter.notify(e)
    return prices


def _housekeep(state: CalculatorState) -> None:
    name = state.rule.name
    state.prune(datetime.now(UTC))
    OPEN.labels(name).set(state.book.open_count())
    TRACKED_PRICES.labels(name).set(len(state.prices))


async def _watch_lag(sub: object, name: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            info = await sub.consumer_info()  # type: ignore[attr-defined]
            CONSUMER_PENDING.labels(f"calculator-{name}", info.name).set(
                info.num_pending + info.num_ack_pending
            )
        except Exception as exc:  # lag is best effort; never stop the calculator for it
            log.debug("consumer info unavailable: %s", exc)
        await asyncio.sleep(5)
