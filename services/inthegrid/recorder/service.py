"""Recorder: two durable pull consumers (prices, opportunity events) writing to PostgreSQL.

Start-up waits for NATS and the database, applies migrations, then consumes. Stop (SIGTERM)
finishes the batch in hand, acks it, drains the NATS connection and closes the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.domain.plausibility import TimeWindow
from inthegrid.domain.prices import PriceLimits
from inthegrid.platform.buckets import ensure_buckets
from inthegrid.platform.bus import (
    OPPORTUNITIES_STREAM,
    OPPORTUNITY_SUBJECT_ROOT,
    PRICE_SUBJECT_ROOT,
    PRICES_STREAM,
    Bus,
    connect_bus,
    stream_sequence,
)
from inthegrid.platform.db import connect_pool, is_transient, run_migrations
from inthegrid.platform.metrics import CONSUMER_PENDING, HealthState
from inthegrid.platform.price_messages import decode_price_fields_on
from inthegrid.platform.runtime import wait_or_stop
from inthegrid.platform.settings import RecorderSettings
from inthegrid.platform.storage_policies import apply_storage_policies
from inthegrid.recorder.consumer import SERVICE, DecodedRows, Sink, StreamRecorder
from inthegrid.recorder.rows import build_event_row, build_price_rows
from inthegrid.recorder.store import write_events, write_prices

log = logging.getLogger(__name__)

PRICES_DURABLE = "recorder-prices"
OPPORTUNITIES_DURABLE = "recorder-opportunities"
ACK_WAIT_SECONDS = 30.0
PENDING_REPORT_SECONDS = 5.0


def _decode_price_rows(limits: PriceLimits, window: TimeWindow, msg: Msg) -> DecodedRows:
    decoded = decode_price_fields_on(msg.subject, msg.data, limits, window)
    return DecodedRows(
        build_price_rows(decoded.prices, stream_sequence(msg)),
        [index for index, _ in decoded.prices],
        decoded.rejected,
    )


def _decode_event_rows(window: TimeWindow, msg: Msg) -> DecodedRows:
    """An event batch (v2) or a single event (v1, from a calculator not yet upgraded)."""
    decoded = decode_events(msg.data, window)
    sequence = stream_sequence(msg)
    return DecodedRows(
        [build_event_row(event, sequence) for _, event in decoded.events],
        [index for index, _ in decoded.events],
        decoded.rejected,
    )


def build_sinks(settings: RecorderSettings) -> list[Sink]:
    return [
        Sink(
            "prices",
            PRICES_STREAM,
            PRICES_DURABLE,
            f"{PRICE_SUBJECT_ROOT}.>",
            partial(_decode_price_rows, settings.price_limits, settings.time_window),
            write_prices,
        ),
        Sink(
            "opportunity_events",
            OPPORTUNITIES_STREAM,
            OPPORTUNITIES_DURABLE,
            f"{OPPORTUNITY_SUBJECT_ROOT}.>",
            partial(_decode_event_rows, settings.time_window),
            write_events,
        ),
    ]


async def subscribe(bus: Bus, sink: Sink, batch: int, writers: int) -> JetStreamContext.PullSubscription:
    """Create (or update) the durable consumer, then bind a pull subscription to it."""
    config = ConsumerConfig(
        durable_name=sink.durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_SECONDS,
        # Room for the batches being written, one being decoded, one being fetched (a batch of
        # single-price messages is ``batch`` messages) and redeliveries after a crash.
        max_ack_pending=max(20_000, (writers + 2) * batch),
        filter_subject=sink.subject,
    )
    await bus.js.add_consumer(sink.stream, config)
    return await bus.js.pull_subscribe_bind(durable=sink.durable, stream=sink.stream)


async def prepare_database(url: str, settings: RecorderSettings, stop: asyncio.Event) -> asyncpg.Pool:
    """A pool on a migrated schema; retries while the database is starting or restarting."""
    while True:
        # A connection per writer of each of the two streams.
        pool = await connect_pool(
            url, stop=stop, timeout=settings.connect_timeout_seconds, max_size=2 * settings.recorder_writers
        )
        try:
            await run_migrations(pool)
            await apply_storage_policies(
                pool,
                compress_after_days=settings.compress_after_days,
                retention_days=settings.retention_days,
            )
            return pool
        except Exception as exc:
            await pool.close()
            if not is_transient(exc) or stop.is_set():
                raise
            log.warning("migrations interrupted (%s); retrying", exc)
            await asyncio.sleep(1.0)


async def report_pending(
    bus: Bus, subs: dict[str, JetStreamContext.PullSubscription], stop: asyncio.Event, health: HealthState
) -> None:
    """Consumer lag for dashboards and alerts, and NATS connectivity for readiness."""
    while not stop.is_set():
        health.set("nats", bus.nc.is_connected)
        for durable, sub in subs.items():
            try:
                info = await sub.consumer_info()
                CONSUMER_PENDING.labels(SERVICE, durable).set(info.num_pending or 0)
            except (nats.errors.Error, TimeoutError) as exc:
                log.debug("consumer info for %s unavailable: %s", durable, exc)
        await wait_or_stop(stop, PENDING_REPORT_SECONDS)


async def run_recorder(settings: RecorderSettings, stop: asyncio.Event, health: HealthState) -> None:
    health.set("nats", False)
    health.set("database", False)
    bus = await connect_bus(settings, SERVICE, stop=stop)
    health.set("nats", True)
    try:
        await ensure_buckets(bus)  # the buckets' owner: raises one made with fewer replicas
        pool = await prepare_database(settings.database_url.get_secret_value(), settings, stop)
        health.set("database", True)
        try:
            sinks = build_sinks(settings)
            subs = {
                sink.durable: await subscribe(bus, sink, settings.recorder_batch, settings.recorder_writers)
                for sink in sinks
            }
            recorders = [
                StreamRecorder(
                    bus,
                    pool,
                    sink,
                    batch=settings.recorder_batch,
                    flush_seconds=settings.recorder_flush_seconds,
                    writers=settings.recorder_writers,
                    stop=stop,
                    health=health,
                )
                for sink in sinks
            ]
            log.info("recording %s", ", ".join(f"{s.stream} as {s.durable}" for s in sinks))
            # A task group: if one consumer fails for good, the others stop too and the process
            # exits for its supervisor to restart, instead of half a recorder carrying on.
            async with asyncio.TaskGroup() as group:
                for r in recorders:
                    group.create_task(r.run(subs[r.sink.durable]))
                group.create_task(report_pending(bus, subs, stop, health))
            # Pull subscriptions hold no messages once the loops ended (all acked or nak'd); dropping
            # them first lets the drain below finish at once instead of waiting out its timeout.
            for sub in subs.values():
                with contextlib.suppress(nats.errors.Error):
                    await sub.unsubscribe()
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pool.close(), 10)
    finally:
        # Drain flushes the acks of the last batch before the connection closes.
        await bus.close()
