"""The rules key-value bucket (``INTHEGRID_RULES``), created in one place with one configuration.

Calculators announce the rule they run; the gateway watches the bucket; tests and benches announce a
rule as a calculator would. Whoever comes first creates the bucket, the others open it.
"""

from __future__ import annotations

import nats.js.errors
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from inthegrid.domain.rule_codec import encode_rule_document
from inthegrid.domain.rules import RuleSpec
from inthegrid.platform.bus import RULES_BUCKET, Bus, token

# Only the rule running now matters: no history beyond the latest value per key.
RULES_BUCKET_HISTORY = 1


def rule_key(name: str) -> str:
    """The bucket key of a rule (a KV key is a subject token: no dots or wildcards)."""
    return token(name)


async def rules_bucket(bus: Bus) -> KeyValue:
    """The rules bucket, created if nobody made it yet (the same configuration either way)."""
    try:
        return await bus.js.key_value(RULES_BUCKET)
    except (BucketNotFoundError, NotFoundError):
        try:
            # Replicated like the streams: an R1 bucket on a lost node would stop every calculator.
            config = KeyValueConfig(
                bucket=RULES_BUCKET, history=RULES_BUCKET_HISTORY, replicas=bus.stream_replicas
            )
            return await bus.js.create_key_value(config)
        except nats.js.errors.Error:  # created meanwhile by another process
            return await bus.js.key_value(RULES_BUCKET)


async def announce_rule(bus: Bus, name: str, spec: RuleSpec) -> None:
    """Put the rule a calculator runs into the bucket (what the gateway lists as running)."""
    kv = await rules_bucket(bus)
    await kv.put(rule_key(name), encode_rule_document(name, spec))
