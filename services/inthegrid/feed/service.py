"""Feed: reads a price source and publishes every price to JetStream with a deterministic
message id, so a restarted or duplicated feed stores nothing twice."""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import Counter, Gauge, Histogram

from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import Price
from inthegrid.platform.bus import Bus, BusError, connect_bus, price_subject, publish_all
from inthegrid.platform.metrics import LATENCY_BUCKETS, HealthState
from inthegrid.platform.runtime import wait_or_stop
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.base import PriceSource

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


def build_source(settings: FeedSettings) -> PriceSource:
    """The source a feed's settings name; imported lazily so a feed loads only what it uses."""
    if settings.feed_source == "simulator":
        from inthegrid.sources.simulator import SimulatorSource

        return SimulatorSource.from_settings(settings)
    if settings.feed_source == "entsoe":
        from inthegrid.sources.entsoe import EntsoeSource

        return EntsoeSource.from_settings(settings)
    from inthegrid.sources.replay import ReplaySource

    return ReplaySource.from_settings(settings)


async def publish_prices(
    bus: Bus, feed: str, prices: list[Price], stop: asyncio.Event | None = None
) -> tuple[int, int] | None:
    """Publish one batch, retrying until JetStream acknowledges every price (ids make it safe).

    Returns None when stopped before the batch was acknowledged: the source produces it again
    after a restart, and the message ids make the second publish harmless.
    """
    items = [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices]
    delay = 0.2
    while True:
        started = time.perf_counter()
        try:
            stored, dupes = await publish_all(bus, items)
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
    for p in prices:
        PUBLISHED.labels(feed, p.zone).inc()
        LAST_PUBLISH.labels(feed, p.zone).set(now)
        LAST_DELIVERY.labels(feed, p.zone).set(p.delivery_start.timestamp())
    if dupes:
        DUPLICATES.labels(feed).inc(dupes)
    return stored, dupes


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
        async for batch in source.batches(stop):
            if batch:
                await publish_prices(bus, settings.feed_name, batch, stop)
            if stop.is_set():
                break
        else:
            if not stop.is_set():
                log.info("source %s is exhausted; idle until stopped", source.name)
            await stop.wait()
    finally:
        await bus.close()
