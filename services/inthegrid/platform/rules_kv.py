"""The rules key-value bucket (``INTHEGRID_RULES``, platform/buckets.py): keys and announcements.

Calculators announce the rule they run; the gateway watches the bucket; tests and benches announce a
rule as a calculator would.
"""

from __future__ import annotations

import asyncio
import time

import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from inthegrid.domain.rule_codec import encode_rule_document
from inthegrid.domain.rules import RuleSpec
from inthegrid.platform.buckets import RULES, open_bucket
from inthegrid.platform.bus import Bus, token


def rule_key(name: str) -> str:
    """The bucket key of a rule (a KV key is a subject token: no dots or wildcards)."""
    return token(name)


async def rules_bucket(bus: Bus) -> KeyValue:
    """The rules bucket, created if nobody made it yet (platform/buckets.py: the same configuration)."""
    return await open_bucket(bus, RULES)


# How long a put waits for the bucket's stream to answer: a replicated (R3) bucket just created, or
# whose leader was just lost, has no leader until its servers elect one (seconds); no responders then.
ANNOUNCE_DEADLINE_SECONDS = 30.0
_NO_LEADER = (nats.js.errors.NoStreamResponseError, nats.errors.NoRespondersError, nats.errors.TimeoutError)


async def announce_rule(bus: Bus, name: str, spec: RuleSpec) -> None:
    """Put the rule a calculator runs into the bucket (what the gateway lists as running)."""
    kv = await rules_bucket(bus)
    deadline = time.monotonic() + ANNOUNCE_DEADLINE_SECONDS
    while True:
        try:
            await kv.put(rule_key(name), encode_rule_document(name, spec))
            return
        except _NO_LEADER:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.25)  # the bucket's servers are electing a leader
