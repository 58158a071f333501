import pytest

from inthegrid.domain.rules import CostModelType, PathMode, compile_rule, parse_rule_spec, rule_from_manifest
from inthegrid.errors import ValidationError


def test_zones_expand_to_every_pair_and_aliases_resolve():
    spec = parse_rule_spec({"zones": ["DE", "FR", "NL"]})
    assert spec.pair_keys() == [("DE-LU", "FR"), ("DE-LU", "NL"), ("FR", "NL")]
    assert spec.cost_model.type is CostModelType.FLAT and spec.paths is PathMode.DIRECT


def test_explicit_pairs_and_pair_costs():
    spec = parse_rule_spec(
        {
            "pairs": [["FR", "DE"]],
            "costModel": {
                "flatCostEurPerMWh": 1,
                "pairCosts": [{"zones": ["DE-LU", "FR"], "costEurPerMWh": 4}],
            },
        }
    )
    rule = compile_rule("r", spec)
    assert rule.pairs[("DE-LU", "FR")].forward[0].cost_eur_mwh == 4


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"zones": ["DE", "XX"]}, "spec.zones"),
        ({"pairs": [["FR", "FR"]]}, "spec.pairs.0"),
        ({"pairs": [["FR"]]}, "spec.pairs"),
        ({}, "spec"),
        ({"zones": ["FR", "BE"], "maxHops": 0}, "spec.maxHops"),
        ({"zones": ["FR", "BE"], "costModel": {"type": "flat"}, "paths": "graph"}, "spec"),
        (
            {
                "zones": ["FR", "BE"],
                "costModel": {"type": "border", "borders": [{"zones": ["FR", "BE"], "lossFactor": 1.2}]},
            },
            "spec.costModel.borders.0.lossFactor",
        ),
        ({"zones": ["FR", "BE"], "bogus": 1}, "spec.bogus"),
    ],
)
def test_invalid_specs_name_the_field(spec, field):
    with pytest.raises(ValidationError) as err:
        parse_rule_spec(spec)
    assert field in str(err.value)


def test_manifest_round_trip():
    name, spec = rule_from_manifest(
        {
            "apiVersion": "inthegrid.io/v1alpha1",
            "kind": "ArbitrageRule",
            "metadata": {"name": "poc"},
            "spec": {"zones": ["DE", "FR"]},
        }
    )
    assert name == "poc" and spec.zones == ["DE-LU", "FR"]
    with pytest.raises(ValidationError, match="kind"):
        rule_from_manifest({"kind": "MarketFeed"})


def test_compiled_rule_indexes_pairs_by_zone():
    rule = compile_rule("r", parse_rule_spec({"zones": ["DE", "FR", "NL"]}))
    assert {m.pair for m in rule.by_zone["FR"]} == {("DE-LU", "FR"), ("FR", "NL")}
