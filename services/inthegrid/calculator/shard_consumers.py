"""The calculator's durable price consumers by shard layout, and removing those of an old layout.

A rule run as ``n`` replicas has one durable consumer per shard on PRICES (``calculator-<rule>`` when
unsharded, ``calculator-<rule>-shard-<i>-of-<n>`` otherwise). When the layout changes (spec.replicas
3 -> 1), the old shards' consumers stay behind: they keep every new price pending (the stream's
interest) and nobody reads them. A calculator therefore deletes, on start, its own rule's durables
that are not part of the current layout: never another rule's, never the recorder's (those names
do not parse as this rule's), and never a name that is also a durable of another running rule
(rule ``a-shard-0-of-3`` unsharded has the same durable as shard 0 of 3 of rule ``a``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable

import nats.errors
from nats.js.errors import NoKeysError, NotFoundError

from inthegrid.domain.shards import MAX_SHARDS
from inthegrid.platform.bus import PRICES_STREAM, Bus, token
from inthegrid.platform.rules_kv import rules_bucket

log = logging.getLogger(__name__)

_SHARD_SUFFIX = re.compile(r"-shard-(0|[1-9][0-9]*)-of-([1-9][0-9]*)")
CONSUMER_LIST_PAGE = 256  # what the server returns per CONSUMER.LIST request
# A denied request is never answered (the server only reports the violation): don't wait long.
DELETE_TIMEOUT_SECONDS = 3.0


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


async def _durables(bus: Bus) -> list[str]:
    names: list[str] = []
    while True:
        page = await bus.js.consumers_info(PRICES_STREAM, offset=len(names) or None)
        names += [info.name for info in page]
        if len(page) < CONSUMER_LIST_PAGE:
            return names


async def _running_rules(bus: Bus) -> list[str]:
    kv = await rules_bucket(bus)
    try:
        return list(await kv.keys())
    except NoKeysError:
        return []


async def delete_stale_durables(bus: Bus, rule: str, shards: int) -> list[str]:
    """Delete this rule's durables of another shard layout; returns the names deleted.

    Every shard of a new layout does this at start: the second to try finds the consumer gone, which
    is as good. A failed deletion (a user not allowed to delete, a server busy) is logged and skipped:
    the calculator runs either way, the stale consumer only holds messages."""
    stale = stale_durables(await _durables(bus), rule, shards, await _running_rules(bus))
    deleted = []
    for name in stale:
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
