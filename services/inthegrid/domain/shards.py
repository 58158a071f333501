"""Splitting one rule's pairs over several calculator replicas (shards), deterministically.

Every replica computes the same split from the rule alone, so no coordination is needed: shard ``i``
of ``n`` values exactly the pairs at positions ``i, i + n, i + 2n, ...`` of the rule's pairs in sorted
order. Round-robin over the sorted pairs keeps the shards within one pair of each other in size
(hashing would not), and each pair is valued by exactly one shard, so the shards together publish the
events one calculator would, each once. A shard consumes only the zones its pairs need.
"""

from __future__ import annotations

from collections.abc import Iterable

from inthegrid.domain.rules import CompiledRule, PairModel
from inthegrid.errors import ValidationError

MAX_SHARDS = 64  # more replicas than this would not pay: a shard holds every price of its zones


def check_shard(index: int, count: int) -> None:
    if not 1 <= count <= MAX_SHARDS:
        raise ValidationError(f"shard count must be 1 to {MAX_SHARDS}, not {count}")
    if not 0 <= index < count:
        raise ValidationError(f"shard index must be 0 to {count - 1}, not {index}")


def shard_pairs(pairs: Iterable[tuple[str, str]], index: int, count: int) -> list[tuple[str, str]]:
    """The pairs shard ``index`` of ``count`` values, in sorted order."""
    check_shard(index, count)
    return sorted(set(pairs))[index::count]


def shard_rule(rule: CompiledRule, index: int, count: int) -> CompiledRule:
    """The rule as one shard runs it: same name, spec and grid (same subjects, same event ids), only
    its own pairs; its zones are those its pairs need."""
    own = shard_pairs(rule.pairs, index, count)
    pairs = {key: rule.pairs[key] for key in own}
    by_zone: dict[str, list[PairModel]] = {}
    for model in pairs.values():
        for zone in model.pair:
            by_zone.setdefault(zone, []).append(model)
    return CompiledRule(rule.name, rule.spec, pairs, {z: tuple(ms) for z, ms in by_zone.items()}, rule.grid)
