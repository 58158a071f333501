from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError as PydanticError

from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.prices import Resolution, make_price
from inthegrid.domain.rules import compile_rule, parse_rule_spec, proof_of_concept_rule
from inthegrid.domain.shards import shard_pairs, shard_rule
from inthegrid.domain.zones import ZONES
from inthegrid.errors import ValidationError
from inthegrid.platform.settings import CalculatorSettings


def _big_rule():
    return compile_rule("all", parse_rule_spec({"zones": sorted(ZONES)[:40]}))


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_cover_every_pair_exactly_once_and_evenly(count: int) -> None:
    pairs = list(_big_rule().pairs)
    shards = [shard_pairs(pairs, i, count) for i in range(count)]
    together = [p for shard in shards for p in shard]
    assert sorted(together) == sorted(pairs) and len(together) == len(set(together))
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1


def test_the_split_depends_on_the_pairs_only_not_their_order() -> None:
    pairs = list(_big_rule().pairs)
    assert shard_pairs(pairs, 1, 3) == shard_pairs(reversed(pairs), 1, 3)
    assert shard_pairs(pairs, 0, 1) == sorted(pairs)


def test_a_shard_rule_keeps_name_and_spec_and_needs_only_its_zones() -> None:
    rule = proof_of_concept_rule()
    shard = shard_rule(rule, 0, 3)
    assert shard.name == rule.name and shard.spec == rule.spec
    assert list(shard.pairs) == [("AT", "BE"), ("AT", "NL"), ("BE", "NL"), ("FR", "NL")]
    assert shard.zones == ("AT", "BE", "FR", "NL")  # no DE-LU: that shard never reads its prices
    assert all(set(m.pair) & {zone} for zone, models in shard.by_zone.items() for m in models)


@pytest.mark.parametrize(("index", "count"), [(3, 3), (-1, 2), (0, 0), (0, 65)])
def test_out_of_range_shards_are_refused(index: int, count: int) -> None:
    with pytest.raises(ValidationError):
        shard_pairs([("AT", "BE")], index, count)


def test_shards_together_publish_what_one_calculator_does() -> None:
    rule = proof_of_concept_rule()
    start = datetime(2026, 1, 5, tzinfo=UTC)
    prices = [
        make_price(
            zone,
            start + k * timedelta(minutes=15),
            40.0 + 13.7 * ((k * 7 + i * 3) % 11),
            resolution=Resolution.PT15M,
        )
        for k in range(24)
        for i, zone in enumerate(rule.zones)
    ]

    def events(states: list[CalculatorState]) -> list[tuple[object, ...]]:
        out = []
        for price in prices:
            for state in states:
                out += [(e.message_id, e.kind, e.value) for e in state.on_price(price, start)]
        return sorted(out, key=repr)

    single = events([CalculatorState(rule)])
    sharded = events([CalculatorState(shard_rule(rule, i, 3)) for i in range(3)])
    assert single and sharded == single


def test_calculator_settings_take_the_shard_and_refuse_an_index_past_the_count() -> None:
    settings = CalculatorSettings(calculator_shard_count=3, calculator_shard_index=2)
    assert (settings.calculator_shard_index, settings.calculator_shard_count) == (2, 3)
    assert CalculatorSettings().calculator_shard_count == 1
    with pytest.raises(PydanticError, match="shard index"):
        CalculatorSettings(calculator_shard_count=3, calculator_shard_index=3)
