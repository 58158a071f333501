"""The JetStream key-value buckets InTheGrid keeps, created and replicated in one place.

- ``INTHEGRID_RULES``: the rule each calculator runs (calculators write, the gateway watches).
- ``INTHEGRID_FEEDS``: where each feed's source resumes (its checkpoint).

Buckets follow ``INTHEGRID_STREAM_REPLICAS`` like the streams: on a 3-node cluster an R1 bucket is lost
with its one server, and with it the running rules or every feed's resume point. Whoever comes first
creates a bucket with the configured replicas. A bucket made with fewer (an install from before the
cluster, or before this rule) is raised by its owner, the recorder, which also owns the streams'
configuration (the chart lets no other user update a stream); the others warn and use it as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from inthegrid.platform.bus import FEEDS_BUCKET, RULES_BUCKET, STREAM_UPDATE_TIMEOUT_SECONDS, Bus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BucketSpec:
    name: str
    history: int  # values kept per key

    @property
    def stream(self) -> str:
        return f"KV_{self.name}"  # the stream JetStream keeps a bucket in

    def config(self, replicas: int) -> KeyValueConfig:
        return KeyValueConfig(bucket=self.name, history=self.history, replicas=replicas)


# Only the latest value per key matters: the rule running now, the checkpoint to resume from.
RULES = BucketSpec(RULES_BUCKET, history=1)
FEEDS = BucketSpec(FEEDS_BUCKET, history=1)
BUCKETS = (RULES, FEEDS)


class ReplicasAction(Enum):
    KEEP = "keep"
    RAISE = "raise"  # the owner updates the bucket's stream to the configured replicas
    WARN = "warn"  # fewer than configured, and not ours to change


def replicas_action(have: int, want: int, *, owner: bool) -> ReplicasAction:
    """What to do about a bucket with ``have`` replicas when ``want`` are configured. Never fewer: a
    bucket with more replicas than this service is configured for was raised on purpose."""
    if have >= want:
        return ReplicasAction.KEEP
    return ReplicasAction.RAISE if owner else ReplicasAction.WARN


T = TypeVar("T")

# A replicated (R3) bucket just created, or whose leader was just lost, answers nothing until its servers
# elect a leader (seconds on a fresh cluster): no responders, or a request timing out. Operations on a
# bucket retry for that long rather than stopping the service at start.
LEADER_DEADLINE_SECONDS = 30.0
NO_LEADER = (nats.js.errors.NoStreamResponseError, nats.errors.NoRespondersError, nats.errors.TimeoutError)


async def while_electing(operation: Callable[[], Awaitable[T]]) -> T:
    """``operation()``, retried while the bucket's stream has no leader, for up to LEADER_DEADLINE_SECONDS."""
    deadline = time.monotonic() + LEADER_DEADLINE_SECONDS
    while True:
        try:
            return await operation()
        except NO_LEADER:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.25)


async def open_bucket(bus: Bus, spec: BucketSpec, *, owner: bool = False) -> KeyValue:
    """The bucket, created with ``bus.stream_replicas`` if nobody made it yet; an existing one with fewer
    replicas is raised when ``owner``, else left as it is with a warning. Waits while it has no leader."""
    return await while_electing(lambda: _open_bucket(bus, spec, owner=owner))


async def _open_bucket(bus: Bus, spec: BucketSpec, *, owner: bool) -> KeyValue:
    try:
        kv = await bus.js.key_value(spec.name)
    except (BucketNotFoundError, NotFoundError):
        try:
            return await bus.js.create_key_value(spec.config(bus.stream_replicas))
        except nats.js.errors.Error:  # created meanwhile by another process
            kv = await bus.js.key_value(spec.name)
    await _check_replicas(bus, spec, owner=owner)
    return kv


async def ensure_buckets(bus: Bus) -> None:
    """The owner's start: every bucket exists with at least the configured replicas."""
    for spec in BUCKETS:
        await open_bucket(bus, spec, owner=True)


async def _check_replicas(bus: Bus, spec: BucketSpec, *, owner: bool) -> None:
    config = (await bus.js.stream_info(spec.stream)).config
    have, want = int(config.num_replicas or 1), bus.stream_replicas
    action = replicas_action(have, want, owner=owner)
    if action is ReplicasAction.WARN:
        log.warning(
            "bucket %s has %d replica(s), %d configured: left for its owner (the recorder) to raise",
            spec.name,
            have,
            want,
        )
    elif action is ReplicasAction.RAISE:
        config.num_replicas = want
        try:
            await asyncio.wait_for(bus.js.update_stream(config), STREAM_UPDATE_TIMEOUT_SECONDS)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("could not raise bucket %s from %d to %d replicas: %s", spec.name, have, want, exc)
        else:
            log.info("raised bucket %s from %d to %d replicas", spec.name, have, want)
