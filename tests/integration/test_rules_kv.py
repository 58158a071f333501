"""The rules bucket on a real nats-server: created once with one configuration, opened by the rest."""

from __future__ import annotations

from inthegrid.domain.rule_codec import decode_rule_document
from inthegrid.domain.rules import parse_rule_spec, proof_of_concept_rule
from inthegrid.platform.buckets import RULES
from inthegrid.platform.bus import RULES_BUCKET, connect_bus
from inthegrid.platform.rules_kv import announce_rule, rule_key, rules_bucket
from inthegrid.platform.settings import CommonSettings


async def test_whoever_comes_first_creates_the_bucket_and_announced_rules_decode(nats_url: str) -> None:
    settings = CommonSettings(nats_url=nats_url, connect_timeout_seconds=10)
    first, second = await connect_bus(settings, "kv-a"), await connect_bus(settings, "kv-b")
    try:
        rule = proof_of_concept_rule()
        await announce_rule(first, rule.name, rule.spec)  # creates the bucket
        kv = await rules_bucket(second)  # opens the same one
        status = await kv.status()
        assert status.bucket == RULES_BUCKET and status.history == RULES.history
        doc = decode_rule_document((await kv.get(rule_key(rule.name))).value or b"")
        assert (doc.name, doc.spec) == (rule.name, rule.spec)

        # A later announcement of the same rule replaces it (a restarted calculator with a new spec).
        narrower = parse_rule_spec({"zones": ["DE", "FR"]})
        await announce_rule(second, rule.name, narrower)
        doc = decode_rule_document((await kv.get(rule_key(rule.name))).value or b"")
        assert doc.spec == narrower
        assert rule_key("a.b c") == "a_b_c"  # a rule name is made a valid key
    finally:
        await first.close()
        await second.close()
