"""The calculator's durable price consumers by shard layout, and removing those of an old layout.

A rule run as ``n`` replicas has one durable consumer per shard on PRICES (``calculator-<rule>`` when
unsharded, ``calculator-<rule>-shard-<i>-of-<n>`` otherwise). When the layout changes (spec.replicas
3 -> 1), the old shards' consumers stay behind: they keep every new price pending (the stream's
interest) and nobody reads them. A calculator therefore deletes, on start, its own rule's durables
that are not part of the current layout: never another rule's, never the recorder's (those names
do not parse as this rule's), and never a name that is also a durable of another running rule
(rule ``a-shard-0-of-3`` unsharded has the same durable as shard 0 of 3 of rule ``a``).

Only an idle one: during a layout change old and new pods run side by side for a while, and a
restarting pod of the old layout must not delete the new layout's consumers (nor the new pods the old
ones' under their feet). A consumer someone pulls from has a pull request waiting, or delivered or
was acknowledged recently; one with neither for IDLE_SECONDS is left by its pods. So the check runs
at start and then every CLEANUP_SECONDS, and the old layout's consumers go once its pods are gone.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import nats.errors
from nats.js.api import ConsumerInfo
from nats.js.errors import NoKeysError, NotFoundError

from inthegrid.domain.shards import MAX_SHARDS
from inthegrid.platform.bus import PRICES_STREAM, Bus, token
from inthegrid.platform.rules_kv import rules_bucket
from inthegrid.platform.runtime import wait_or_stop

log = logging.getLogger(__name__)

_SHARD_SUFFIX = re.compile(r"-shard-(0|[1-9][0-9]*)-of-([1-9][0-9]*)")
CONSUMER_LIST_PAGE = 256  # what the server returns per CONSUMER.LIST request
# A denied request is never answered (the server only reports the violation): don't wait long.
DELETE_TIMEOUT_SECONDS = 3.0
# A calculator fetches with a 1 s timeout, so a consumer it reads always has a pull request waiting or a
# recent delivery or ack; this long without either, nobody reads it.
IDLE_SECONDS = 30.0
CLEANUP_SECONDS = 15.0


def durable_base(rule: str) -> str:
    return f"calculator-{token(rule).replace('/', '_')}"


def durable_name(rule: str, shard: int = 0, shards: int = 1) -> str:
    """The rule's durable price consumer; one per shard when the rule runs as several replicas."""
    base = durable_base(rule)
    return base if shards == 1 else f"{base}-shard-{shard}-of-{shards}"


def durable_layout(name: str, rule: str) -> tuple[int, int] | None:
    """(shard, shards) when ``name`` is a durable ``durable_name(rule, shard, shards)`` gives, else None."""
    base = durable_base(rule)
    if name == base:
        return (0, 1)
    if not name.startswith(base):
        return None
    found = _SHARD_SUFFIX.fullmatch(name, len(base))
    if found is None:
        return None
    shard, shards = int(found.group(1)), int(found.group(2))
    return (shard, shards) if 1 < shards <= MAX_SHARDS and shard < shards else None


def stale_durables(
    existing: Iterable[str], rule: str, shards: int, other_rules: Iterable[str] = ()
) -> list[str]:
    """The durables among ``existing`` that belong to ``rule`` in a layout other than ``shards``
    replicas, sorted; a name that is also a durable of one of ``other_rules`` is left alone."""
    current = {durable_name(rule, i, shards) for i in range(shards)}
    others = [r for r in set(other_rules) if durable_base(r) != durable_base(rule)]
    return sorted(
        name
        for name in set(existing)
        if name not in current
        and durable_layout(name, rule) is not None
        and not any(durable_layout(name, other) is not None for other in others)
    )


def idle(
    waiting: int, moments: Iterable[datetime | None], now: datetime, threshold: float = IDLE_SECONDS
) -> bool:
    """Whether nobody reads a consumer: no pull request waiting, and none of ``moments`` (its creation,
    last delivery, last ack) within ``threshold`` seconds of ``now``."""
    if waiting > 0:
        return False
    latest = max((m if m.tzinfo else m.replace(tzinfo=UTC) for m in moments if m is not None), default=None)
    return latest is None or now - latest >= timedelta(seconds=threshold)


def _idle_info(info: ConsumerInfo, now: datetime) -> bool:
    moments: list[datetime | None] = [info.created]
    moments += [s.last_active for s in (info.delivered, info.ack_floor) if s is not None]
    return idle(int(info.num_waiting or 0), moments, now)


async def price_consumers(bus: Bus) -> list[ConsumerInfo]:
    infos: list[ConsumerInfo] = []
    while True:
        page = await bus.js.consumers_info(PRICES_STREAM, offset=len(infos) or None)
        infos += page
        if len(page) < CONSUMER_LIST_PAGE:
            return infos


async def running_rules(bus: Bus) -> list[str]:
    kv = await rules_bucket(bus)
    try:
        return list(await kv.keys())
    except NoKeysError:
        return []


async def delete_stale_durables(bus: Bus, rule: str, shards: int) -> list[str]:
    """Delete this rule's idle durables of another shard layout; returns the names deleted.

    Every shard of a new layout does this: the second to try finds the consumer gone, which is as
    good. A failed deletion (a user not allowed to delete, a server busy) is logged and skipped: the
    calculator runs either way, the stale consumer only holds messages."""
    infos = {info.name: info for info in await price_consumers(bus)}
    now = datetime.now(UTC)
    stale = stale_durables(infos, rule, shards, await running_rules(bus))
    deleted = []
    for name in stale:
        if not _idle_info(infos[name], now):
            log.info("consumer %s of an old shard layout is still read; deleting it once idle", name)
            continue
        try:
            await asyncio.wait_for(bus.js.delete_consumer(PRICES_STREAM, name), DELETE_TIMEOUT_SECONDS)
        except NotFoundError:
            continue
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("could not delete consumer %s of an old shard layout: %s", name, exc)
            continue
        deleted.append(name)
        log.info("deleted consumer %s: not part of rule %s's layout of %d shard(s)", name, rule, shards)
    return deleted


async def clean_stale_durables(bus: Bus, rule: str, shards: int, stop: asyncio.Event) -> None:
    """delete_stale_durables now and every CLEANUP_SECONDS until stopped (best effort: a failed pass
    never stops the calculator)."""
    while not stop.is_set():
        try:
            await delete_stale_durables(bus, rule, shards)
        except (nats.errors.Error, TimeoutError) as exc:
            log.debug("stale consumer check failed: %s", exc)
        await wait_or_stop(stop, CLEANUP_SECONDS)
