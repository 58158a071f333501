"""NATS JetStream: connection with retry, the streams InTheGrid uses, idempotent publishing and
the dead-letter stream that keeps what could not be decoded.

Stream layout
- PRICES         ``inthegrid.prices.<market>.<zone>``         price batches of that zone (contract v2,
                                                               domain/batch_codec.py) or single prices
                                                               (v1), deduplicated by message id
- OPPORTUNITIES  ``inthegrid.opportunities.<rule>.<pair>``     batches of that pair's opened/updated/closed
                                                               events (contract v2, event_batch_codec.py)
                                                               or single events (v1)
- CAPACITIES     ``inthegrid.capacities.<kind>.<from>__<to>``  published capacities, exchanges, flows
- DEADLETTER     ``inthegrid.deadletter.<stream>.<service>``   rejected messages, for inspection
- KV ``INTHEGRID_RULES``                                       the rules calculators are running
- KV ``INTHEGRID_FEEDS``                                       where each feed's source resumes
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

from inthegrid.domain.batch_codec import RejectedItem
from inthegrid.domain.codec import decode_price
from inthegrid.domain.plausibility import TimeWindow
from inthegrid.domain.prices import Price, PriceLimits
from inthegrid.errors import DecodeError, InTheGridError
from inthegrid.platform.metrics import BUS_CONNECTED, MESSAGES_REJECTED, HealthState
from inthegrid.platform.settings import CommonSettings

log = logging.getLogger(__name__)

PRICES_STREAM = "PRICES"
OPPORTUNITIES_STREAM = "OPPORTUNITIES"
DEADLETTER_STREAM = "DEADLETTER"
CAPACITIES_STREAM = "CAPACITIES"
RULES_BUCKET = "INTHEGRID_RULES"
FEEDS_BUCKET = "INTHEGRID_FEEDS"  # per feed: where a restarted source resumes (its checkpoint)

PRICE_SUBJECT_ROOT = "inthegrid.prices"
OPPORTUNITY_SUBJECT_ROOT = "inthegrid.opportunities"
DEADLETTER_SUBJECT_ROOT = "inthegrid.deadletter"
CAPACITY_SUBJECT_ROOT = "inthegrid.capacities"

# Re-publishing within this window is dropped by JetStream (Nats-Msg-Id). It covers a restart of
# a feed or calculator; the database's natural keys make older duplicates harmless too.
DUPLICATE_WINDOW_SECONDS = 3600.0
CAPACITIES_STREAM_MAX_BYTES = 64 * 2**20  # years of hourly figures for every border direction
# publish_all sends at most this many before waiting on the client's in-flight limit (4000 in nats-py),
# and gives up with TooManyStalledMsgsError when a chunk cannot be sent within the stall timeout.
PUBLISH_CHUNK = 1000
PUBLISH_STALL_SECONDS = 30.0


# Room for the reason and origin headers of a dead letter on top of its (truncated) payload.
DEADLETTER_HEADER_BYTES = 2048
# A denied stream update is never answered (the server only reports the violation): don't wait long.
STREAM_UPDATE_TIMEOUT_SECONDS = 3.0


class BusError(InTheGridError):
    pass


def token(text: str) -> str:
    """A string made safe for one subject token (no dots, wildcards or spaces)."""
    return "".join("_" if c in ".*> \t\r\n" else c for c in text) or "_"


def price_subject(market: str, zone: str) -> str:
    return f"{PRICE_SUBJECT_ROOT}.{token(market)}.{token(zone)}"


def capacity_subject(kind: str, source: str, target: str) -> str:
    """``inthegrid.capacities.<kind>.<from>__<to>``: one border direction's published figures."""
    return f"{CAPACITY_SUBJECT_ROOT}.{token(kind)}.{token(source)}__{token(target)}"


def decode_price_on(subject: str, data: bytes, limits: PriceLimits, window: TimeWindow) -> Price:
    """A price message as a consumer must take it: valid, plausible, and on its own zone's subject
    (a DE-LU price on the FR subject would slip past every per-zone filter and permission)."""
    price = decode_price(data, limits, window)
    expected = price_subject(price.market.value, price.zone)
    if subject != expected:
        raise DecodeError(f"{price.market.value} price for {price.zone} arrived on {subject}, not {expected}")
    return price


def opportunity_subject(rule: str, pair: tuple[str, str]) -> str:
    return f"{OPPORTUNITY_SUBJECT_ROOT}.{token(rule)}.{token(pair[0])}__{token(pair[1])}"


@dataclass(frozen=True, slots=True)
class Bus:
    nc: NATS
    js: JetStreamContext
    deadletter_max_message_bytes: int = 4096
    # Replicas of what a service creates besides the streams (KV buckets, long-lived ephemeral
    # consumers): on a cluster, an R1 bucket or consumer dies with its one server.
    stream_replicas: int = 1

    async def close(self) -> None:
        """Drain: finish what is in flight, then disconnect."""
        if not self.nc.is_closed:
            # Publishes are awaited for their acks and messages are acked as they are processed,
            # so little is in flight: a short drain, then close (a stuck pull request must not
            # hold a SIGTERM for long).
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await asyncio.wait_for(self.nc.drain(), 3)
            if not self.nc.is_closed:
                await self.nc.close()


async def connect_bus(
    settings: CommonSettings,
    service: str,
    *,
    stop: asyncio.Event | None = None,
    health: HealthState | None = None,
) -> Bus:
    """Connect, retrying with capped exponential backoff until connected, stopped or timed out.

    With ``health``, readiness follows the connection: /readyz says "nats=down" while disconnected.
    """
    servers = [s.strip() for s in settings.nats_url.split(",") if s.strip()]
    delay, waited = 0.2, 0.0

    async def on_disconnect() -> None:
        BUS_CONNECTED.labels(service).set(0)
        if health is not None:
            health.set("nats", False)
        log.warning("disconnected from NATS")

    async def on_reconnect() -> None:
        BUS_CONNECTED.labels(service).set(1)
        if health is not None:
            health.set("nats", True)
        log.info("reconnected to NATS")

    async def on_error(exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    while True:
        try:
            nc = await nats.connect(
                servers=servers,
                name=f"inthegrid-{service}",
                user=settings.nats_user,
                password=settings.nats_password.get_secret_value() if settings.nats_password else None,
                connect_timeout=2,
                allow_reconnect=True,
                # One retry for the first connection: with -1 nats-py retries a refused first connection
                # forever inside connect(), every 0.5 s, deaf to stop and to the backoff and timeout
                # below. Unlimited once connected, so a lost connection is always re-established.
                max_reconnect_attempts=1,
                reconnect_time_wait=0.5,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                error_cb=on_error,
                pending_size=64 * 1024 * 1024,
            )
            nc.options["max_reconnect_attempts"] = -1
            BUS_CONNECTED.labels(service).set(1)
            bus = Bus(
                nc, nc.jetstream(timeout=10), settings.deadletter_max_message_bytes, settings.stream_replicas
            )
            await ensure_streams(bus, settings)
            return bus
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            problem = connect_problem(exc)
            if waited >= settings.connect_timeout_seconds:
                raise BusError(
                    f"could not use NATS at {settings.nats_url} after {waited:.0f}s: {problem}"
                ) from exc
            log.warning("NATS not ready (%s); retrying in %.1fs", problem, delay)
            if stop is not None and stop.is_set():
                raise BusError("stopped while waiting for NATS") from exc
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0) * random.uniform(0.8, 1.2)


# JetStream's "insufficient storage resources available": a stream's byte limit does not fit in what
# is left of the server's file store (max_file_store).
JS_STORAGE_EXCEEDED = 10047


def connect_problem(exc: BaseException) -> str:
    """What went wrong while connecting, with the way out when it is configuration, not a network."""
    if isinstance(exc, APIError) and exc.err_code == JS_STORAGE_EXCEEDED:
        return (
            f"{exc}: JetStream's file store is smaller than the streams' byte limits; give the NATS "
            "servers more storage (chart: nats.jetstream.storageSize) or lower INTHEGRID_*_STREAM_MAX_BYTES"
        )
    return str(exc) or type(exc).__name__


async def ensure_streams(bus: Bus, settings: CommonSettings) -> None:
    def stream(name: str, root: str, **limits: Any) -> StreamConfig:
        return StreamConfig(
            name=name,
            subjects=[f"{root}.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            num_replicas=settings.stream_replicas,
            discard=DiscardPolicy.OLD,
            **limits,
        )

    max_age = settings.stream_max_age_hours * 3600
    # Byte limits (defaults: 1 GiB + 512 MiB + 128 MiB) keep the streams inside the chart's 2 GiB
    # JetStream volume whatever the traffic; the oldest messages go first.
    configs = [
        stream(
            PRICES_STREAM,
            PRICE_SUBJECT_ROOT,
            max_age=max_age,
            max_bytes=settings.prices_stream_max_bytes,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        ),
        stream(
            OPPORTUNITIES_STREAM,
            OPPORTUNITY_SUBJECT_ROOT,
            max_age=max_age,
            max_bytes=settings.opportunities_stream_max_bytes,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        ),
        # Rejected messages are kept a month for inspection, whatever the price retention; each once
        # (deduplicated by origin), truncated, so a flood of bad messages cannot fill the volume.
        stream(
            DEADLETTER_STREAM,
            DEADLETTER_SUBJECT_ROOT,
            max_age=30 * 86400.0,
            max_msgs=100_000,
            max_bytes=settings.deadletter_max_bytes,
            max_msg_size=settings.deadletter_max_message_bytes + DEADLETTER_HEADER_BYTES,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        ),
        # Published capacities, exchanges and flows: small (a figure per border direction and period).
        stream(
            CAPACITIES_STREAM,
            CAPACITY_SUBJECT_ROOT,
            max_age=max_age,
            max_bytes=CAPACITIES_STREAM_MAX_BYTES,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        ),
    ]
    for config in configs:
        try:
            existing = (await bus.js.stream_info(str(config.name))).config
        except NotFoundError:
            await bus.js.add_stream(config)
            continue
        differences = stream_differences(existing, config)
        if not differences:
            continue  # no update call: most users may not make one (see below)
        try:
            await asyncio.wait_for(bus.js.update_stream(config), STREAM_UPDATE_TIMEOUT_SECONDS)
        except (nats.errors.Error, TimeoutError) as exc:
            # Updating a stream can erase history (a smaller limit drops messages), so the chart
            # lets only the stream owner (the recorder) do it; others keep the stream as it is.
            log.warning(
                "stream %s differs from this service's settings (%s) and was left as it is: %s",
                config.name,
                ", ".join(differences),
                exc or type(exc).__name__,
            )


# The fields ensure_streams sets; the server fills in the others, so only these are compared.
_MANAGED_STREAM_FIELDS = (
    "subjects",
    "storage",
    "retention",
    "num_replicas",
    "discard",
    "max_age",
    "max_bytes",
    "max_msgs",
    "max_msg_size",
    "duplicate_window",
)


def stream_differences(existing: StreamConfig, desired: StreamConfig) -> list[str]:
    """Names of the managed fields where a stream's configuration differs from the desired one.

    A field the desired configuration leaves unset (None) is the server's default and not compared."""
    differences = []
    for field in _MANAGED_STREAM_FIELDS:
        want = getattr(desired, field)
        if want is None:
            continue
        have = getattr(existing, field)
        if isinstance(want, float) or isinstance(have, float):
            if have is None or abs(float(have) - float(want)) > 1e-3:
                differences.append(field)
        elif have != want:
            differences.append(field)
    return differences


async def _publish_chunk(bus: Bus, items: Sequence[tuple[str, bytes, str]]) -> list[asyncio.Future[Any]]:
    # No wait_stall: with it nats-py wraps every publish in asyncio.wait_for, which yields to the loop
    # per message so each one leaves in its own socket write (3-4x slower, bench/RESULTS.md). The one
    # timeout around the chunk still bounds a stall on the client's in-flight limit.
    return [
        await bus.js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id})
        for subject, payload, msg_id in items
    ]


async def publish_all(
    bus: Bus, items: Iterable[tuple[str, bytes, str]], ack_timeout: float = 60.0
) -> tuple[int, int]:
    """Publish (subject, payload, message id) tuples concurrently; returns (stored, duplicates).

    Every publish is acknowledged by JetStream before this returns, so the caller may treat the
    batch as durable. A failure raises after the others finished; re-publishing is safe.
    """
    duplicate = await publish_each(bus, items, ack_timeout)
    return len(duplicate) - sum(duplicate), sum(duplicate)


async def publish_each(
    bus: Bus, items: Iterable[tuple[str, bytes, str]], ack_timeout: float = 60.0
) -> list[bool]:
    """publish_all, telling for each item whether JetStream already had it (a dropped re-publish)."""
    pending = list(items)
    futures: list[asyncio.Future[Any]] = []
    for first in range(0, len(pending), PUBLISH_CHUNK):
        futures += await asyncio.wait_for(
            _publish_chunk(bus, pending[first : first + PUBLISH_CHUNK]), PUBLISH_STALL_SECONDS
        )
    if not futures:
        return []
    # A publish in flight to a stream leader that dies is never answered: only this bounds the wait.
    acks = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), ack_timeout)
    errors = [a for a in acks if isinstance(a, BaseException)]
    if errors:
        raise BusError(f"{len(errors)} of {len(acks)} publishes failed: {errors[0]!r}")
    return [bool(getattr(a, "duplicate", False)) for a in acks]


async def dead_letter(bus: Bus, msg: Msg, *, stream: str, service: str, reason: str) -> None:
    """Keep a rejected message for inspection, count it, and terminate its delivery."""
    await dead_letter_data(
        bus, msg.subject, msg.data, stream=stream, service=service, reason=reason, sequence=_metadata(msg)
    )
    await msg.term()


async def dead_letter_items(
    bus: Bus, msg: Msg, rejected: Sequence[RejectedItem], *, stream: str, service: str
) -> None:
    """Keep each rejected item of a batch on its own (the message itself is acked by the caller: its
    other items were processed)."""
    sequence = _metadata(msg)
    for item in rejected:
        await dead_letter_data(
            bus,
            msg.subject,
            item.data,
            stream=stream,
            service=service,
            reason=f"item {item.index}: {item.reason}",
            sequence=sequence,
            item=item.index,
        )


def dead_letter_id(
    stream: str, subject: str, data: bytes, sequence: int | None, item: int | None = None
) -> str:
    """One id per rejected message (or item of a batch), whichever consumer rejects it: its stream
    sequence (and item index), or (for data never stored, such as a price a feed refused) a digest
    of what it was."""
    if sequence is not None:
        return f"dlq:{stream}:{sequence}" if item is None else f"dlq:{stream}:{sequence}:{item}"
    digest = hashlib.sha256(subject.encode() + b"\n" + bytes(data)).hexdigest()
    return f"dlq:{stream}:{digest[:32]}"


async def dead_letter_data(
    bus: Bus,
    subject: str,
    data: bytes,
    *,
    stream: str,
    service: str,
    reason: str,
    sequence: int | None = None,
    item: int | None = None,
) -> None:
    """Keep rejected data (a consumed message, or a price a feed refused to publish) and count it.

    Each consumer that rejects a message counts it, but the stream keeps it once (the first
    rejection's reason; the others are dropped as duplicates), truncated to the configured size.
    """
    MESSAGES_REJECTED.labels(service, stream).inc()
    limit = bus.deadletter_max_message_bytes
    headers = {
        "InTheGrid-Reason": reason[:500],
        "InTheGrid-Original-Subject": subject[:256],
        "InTheGrid-Service": service,
        "InTheGrid-Original-Size": str(len(data)),
        "Nats-Msg-Id": dead_letter_id(stream, subject, data, sequence, item),
    }
    if len(data) > limit:
        headers["InTheGrid-Truncated"] = "true"
    if sequence is not None:
        headers["InTheGrid-Original-Sequence"] = str(sequence)
    if item is not None:
        headers["InTheGrid-Original-Item"] = str(item)
    target = f"{DEADLETTER_SUBJECT_ROOT}.{token(stream.lower())}.{token(service)}"
    try:
        await bus.js.publish(target, bytes(data[:limit]), headers=headers)
    except nats.errors.Error as exc:  # keep consuming even if the DLQ is unavailable; the count stays
        log.error("could not dead-letter a message: %s", exc)
    log.warning("rejected a message from %s: %s", stream, reason)


def _metadata(msg: Msg) -> int | None:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:  # plain (non-JetStream) messages have no metadata
        return None


def stream_sequence(msg: Msg) -> int:
    seq = _metadata(msg)
    if seq is None:
        raise BusError("message has no JetStream metadata")
    return seq


async def fetch_batch(sub: JetStreamContext.PullSubscription, batch: int, timeout: float) -> Sequence[Msg]:
    """Block until at least one message arrives or ``timeout`` passes (event-driven, no polling).

    On a cluster a consumer is briefly unavailable (503) while its replicas elect a new leader, after
    the old one's server died: nothing to deliver yet, the same as a timeout; the next fetch reaches
    the new leader. A consumer that is gone for good (deleted, or an R1 consumer lost with its server)
    still raises, so the service restarts and creates it again."""
    try:
        return await sub.fetch(batch, timeout=timeout)
    except (nats.errors.TimeoutError, TimeoutError):
        return ()
    except ServiceUnavailableError:
        try:
            await sub.consumer_info()
        except NotFoundError:
            raise
        except (nats.errors.Error, TimeoutError):
            pass  # no answer while the election runs
        log.info("consumer unavailable (leader election); fetching again")
        await asyncio.sleep(min(timeout, 0.1))
        return ()
