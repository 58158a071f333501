"""The rules key-value bucket (``INTHEGRID_RULES``, platform/buckets.py): keys and announcements.

Calculators announce the rule they run; the gateway watches the bucket; tests and benches announce a
rule as a calculator would.
"""

from __future__ import annotations

from nats.js.kv import KeyValue

from inthegrid.domain.rule_codec import encode_rule_document
from inthegrid.domain.rules import RuleSpec
from inthegrid.platform.buckets import RULES, open_bucket, while_electing
from inthegrid.platform.bus import Bus, token


def rule_key(name: str) -> str:
    """The bucket key of a rule (a KV key is a subject token: no dots or wildcards)."""
    return token(name)


async def rules_bucket(bus: Bus) -> KeyValue:
    """The rules bucket, created if nobody made it yet (platform/buckets.py: the same configuration)."""
    return await open_bucket(bus, RULES)


async def announce_rule(bus: Bus, name: str, spec: RuleSpec) -> None:
    """Put the rule a calculator runs into the bucket (what the gateway lists as running)."""
    kv = await rules_bucket(bus)
    await while_electing(lambda: kv.put(rule_key(name), encode_rule_document(name, spec)))
