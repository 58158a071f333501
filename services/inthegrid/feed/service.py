"""Feed: reads a price source and publishes its prices to JetStream in batches (one zone each, see
domain/batch_codec.py) with deterministic message ids, so a restarted or duplicated feed stores
nothing twice.

Prices outside the plausibility window are never published: they are dead-lettered with the reason.
A source that can resume (the simulator) gets its checkpoint from the KV bucket at start and a new
one after every acknowledged batch, so a restart continues where the last run stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import nats.errors
import orjson
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from prometheus_client import Counter, Gauge, Histogram

from inthegrid.domain.batch_codec import group_price_batches
from inthegrid.domain.codec import encode_price
from inthegrid.domain.plausibility import TimeWindow, check_price
from inthegrid.domain.prices import Price
from inthegrid.errors import ImplausibleTimeError
from inthegrid.platform.buckets import FEEDS, open_bucket, while_electing
from inthegrid.platform.bus import (
    PRICES_STREAM,
    Bus,
    BusError,
    connect_bus,
    dead_letter_data,
    price_subject,
    publish_each,
    token,
)
from inthegrid.platform.metrics import LATENCY_BUCKETS, HealthState
from inthegrid.platform.price_messages import price_messages
from inthegrid.platform.runtime import wait_or_stop
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.base import PriceSource
from inthegrid.sources.registry import build_source

log = logging.getLogger(__name__)

PUBLISHED = Counter("inthegrid_feed_prices_published_total", "Prices stored by JetStream", ["feed", "zone"])
DUPLICATES = Counter(
    "inthegrid_feed_prices_duplicate_total", "Prices JetStream already had (re-publish dropped)", ["feed"]
)
PUBLISH_ERRORS = Counter("inthegrid_feed_publish_errors_total", "Batches that failed to publish", ["feed"])
LAST_PUBLISH = Gauge(
    "inthegrid_feed_last_publish_timestamp_seconds", "Unix time of the last published price", ["feed", "zone"]
)
LAST_DELIVERY = Gauge(
    "inthegrid_feed_last_delivery_start_timestamp_seconds",
    "Delivery start of the newest price published, Unix time",
    ["feed", "zone"],
)
PUBLISH_SECONDS = Histogram(
    "inthegrid_feed_publish_duration_seconds",
    "Time to publish one batch and get every ack",
    ["feed"],
    buckets=LATENCY_BUCKETS,
)


async def publish_prices(
    bus: Bus, feed: str, prices: list[Price], stop: asyncio.Event | None = None
) -> tuple[int, int] | None:
    """Publish one batch, retrying until JetStream acknowledges every message (ids make it safe).

    Returns (prices stored, prices JetStream already had); each message carries up to
    MAX_BATCH_PRICES prices of one zone and is deduplicated as a whole.

    Returns None when stopped before the batch was acknowledged: the source produces it again
    after a restart, and the message ids make the second publish harmless.
    """
    batches = group_price_batches(prices)
    items = price_messages(batches)
    delay = 0.2
    while True:
        started = time.perf_counter()
        try:
            duplicate = await publish_each(bus, items)
            break
        except (BusError, TimeoutError) as exc:
            PUBLISH_ERRORS.labels(feed).inc()
            log.warning("publish failed (%s); retrying the batch in %.1fs", exc, delay)
            if stop is not None and await wait_or_stop(stop, delay):
                log.warning(
                    "stopped with %d prices unacknowledged; they are re-published on restart", len(prices)
                )
                return None
            if stop is None:
                await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    PUBLISH_SECONDS.labels(feed).observe(time.perf_counter() - started)
    now = time.time()
    # Per zone, not per price: a batch holds hundreds of prices of a few zones.
    counts: dict[str, int] = {}
    last: dict[str, Price] = {}  # each zone's last price in the batch
    for p in prices:
        counts[p.zone] = counts.get(p.zone, 0) + 1
        last[p.zone] = p
    for zone, count in counts.items():
        PUBLISHED.labels(feed, zone).inc(count)
        LAST_PUBLISH.labels(feed, zone).set(now)
        LAST_DELIVERY.labels(feed, zone).set(last[zone].delivery_start.timestamp())
    dupes = sum(len(b) for b, dup in zip(batches, duplicate, strict=True) if dup)
    if dupes:
        DUPLICATES.labels(feed).inc(dupes)
    return len(prices) - dupes, dupes


async def run_feed(
    settings: FeedSettings, stop: asyncio.Event, health: HealthState, source: PriceSource | None = None
) -> None:
    health.set("nats", False)
    bus = await connect_bus(settings, f"feed-{settings.feed_name}", stop=stop, health=health)
    health.set("nats", True)
    source = source or build_source(settings)
    log.info("feed %s publishing %s from %s", settings.feed_name, ",".join(settings.feed_zones), source.name)
    try:
        if settings.feed_paused:
            log.info("feed is paused; publishing nothing")
            await stop.wait()
            return
        checkpoints = await _resume(bus, settings.feed_name, source)
        async for produced in source.batches(stop):
            batch = await admit_prices(bus, settings.feed_name, produced, settings.time_window)
            if batch and await publish_prices(bus, settings.feed_name, batch, stop) is not None:
                await _save_checkpoint(checkpoints, settings.feed_name, source, batch)
            if stop.is_set():
                break
        else:
            if not stop.is_set():
                log.info("source %s is exhausted; idle until stopped", source.name)
            await stop.wait()
    finally:
        await bus.close()


async def admit_prices(bus: Bus, feed: str, prices: list[Price], window: TimeWindow) -> list[Price]:
    """The prices a feed may publish; implausible ones are dead-lettered with the reason instead."""
    now = datetime.now(UTC)
    admitted = []
    for p in prices:
        try:
            check_price(window, p, now)
        except ImplausibleTimeError as exc:
            subject = price_subject(p.market.value, p.zone)
            await dead_letter_data(
                bus, subject, encode_price(p), stream=PRICES_STREAM, service=f"feed-{feed}", reason=str(exc)
            )
            continue
        admitted.append(p)
    return admitted


async def _resume(bus: Bus, feed: str, source: PriceSource) -> KeyValue | None:
    """Hand a resumable source its checkpoint; the bucket to save new ones in (None: not resumable)."""
    resume = getattr(source, "resume", None)
    if resume is None:
        return None
    kv = await open_bucket(bus, FEEDS)
    try:
        entry = await while_electing(lambda: kv.get(token(feed)))
        checkpoint: Any = orjson.loads(entry.value) if entry.value else None
    except KeyNotFoundError:
        checkpoint = None
    except orjson.JSONDecodeError:
        log.warning("feed %s: unreadable checkpoint; starting afresh", feed)
        checkpoint = None
    resume(checkpoint if isinstance(checkpoint, dict) else None)
    return kv


async def _save_checkpoint(kv: KeyValue | None, feed: str, source: PriceSource, batch: list[Price]) -> None:
    if kv is None:
        return
    try:
        await kv.put(token(feed), orjson.dumps(source.checkpoint(batch)))  # type: ignore[attr-defined]
    except (nats.errors.Error, TimeoutError) as exc:
        # Best effort: without it a restart re-publishes a few periods, with the same values.
        log.warning("feed %s: could not save its checkpoint: %s", feed, exc)
