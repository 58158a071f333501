"""The economics of moving power, including the proof of concept's worked example."""

import numpy as np
import pytest

from inthegrid.domain.economics import is_opportunity, opportunity_mask, value_pair, value_pair_arrays
from inthegrid.domain.rules import compile_rule, parse_rule_spec, proof_of_concept_rule


def test_proof_of_concept_worked_example_exactly():
    rule = proof_of_concept_rule()
    value = value_pair(rule.pairs[("DE-LU", "FR")], 60.00, 80.00, 1.0)
    assert value.spread_eur_mwh == 20.00
    assert value.net_eur_mwh == 17.50
    assert value.cost_eur_mwh == 2.50
    assert value.strategy == "Buy in DE-LU at €60.00, sell in FR at €80.00"
    assert (value.buy_zone, value.sell_zone) == ("DE-LU", "FR")
    assert is_opportunity(rule, value)


def test_proof_of_concept_rule_has_all_ten_pairs():
    assert len(proof_of_concept_rule().pairs) == 10


def test_direction_follows_the_prices():
    rule = proof_of_concept_rule()
    value = value_pair(rule.pairs[("DE-LU", "FR")], 90.0, 80.0, 1.0)
    assert (value.buy_zone, value.sell_zone, value.net_eur_mwh) == ("FR", "DE-LU", 7.5)


def test_opportunity_needs_net_strictly_above_minimum():
    rule = proof_of_concept_rule()
    equal = value_pair(rule.pairs[("DE-LU", "FR")], 60.0, 62.5, 1.0)
    assert equal.net_eur_mwh == 0.0
    assert not is_opportunity(rule, equal)
    assert not is_opportunity(rule, value_pair(rule.pairs[("DE-LU", "FR")], 60.0, 60.0, 1.0))
    assert not is_opportunity(rule, None)


def _border_rule(**extra):
    spec = {
        "zones": ["DE-LU", "FR", "NL", "BE", "AT", "NO2"],
        "costModel": {"type": "border"},
        "paths": "graph",
    }
    spec.update(extra)
    return compile_rule("realistic", parse_rule_spec(spec))


def test_losses_are_proportional_to_the_selling_price():
    rule = _border_rule(paths="direct")
    value = value_pair(rule.pairs[("NL", "NO2")], 100.0, 20.0, 1.0)  # buy NO2 at 20, sell NL at 100
    assert value.path == ("NO2", "NL")
    assert value.net_eur_mwh == pytest.approx(round((1 - 0.032) * 100 - 20, 2))
    assert value.value_eur == pytest.approx(round(value.net_eur_mwh * 700, 2))
    # NorNed is coupled day-ahead: the value is congestion income, not a profit.
    assert value.profit_eur is None
    assert value.congestion_value_eur == pytest.approx(80.0 * 700)


def test_graph_chooses_the_route_worth_most_not_the_best_margin():
    # Per MWh, NordLink + DE-LU>NL (3 % loss, 1,400 MW) beats Skagerrak + DK1>DE-LU>NL (3.8 %, 1,632 MW):
    # 77.00 vs 76.20. Per hour, the wider route is worth more: 76.20 x 1,632 > 77.00 x 1,400.
    value = value_pair(_border_rule().pairs[("NL", "NO2")], 100.0, 20.0, 1.0)
    assert value.path == ("NO2", "DK1", "DE-LU", "NL")
    assert value.net_eur_mwh == pytest.approx(round(0.962 * 100 - 20, 2))
    assert value.capacity_mw == 1632
    assert value.value_eur == pytest.approx(76.2 * 1632)


def test_negative_prices_flip_the_better_direction():
    rule = _border_rule(paths="direct")
    # NL pays 50 to take power; NO2 costs 10: moving NL->NO2 earns (1-L)*10 + 50.
    value = value_pair(rule.pairs[("NL", "NO2")], -50.0, 10.0, 1.0)
    assert (value.buy_zone, value.sell_zone) == ("NL", "NO2")
    assert value.net_eur_mwh == pytest.approx(round(0.968 * 10 + 50, 2))


def test_non_neighbours_go_through_the_graph_with_narrowest_capacity_and_quarter_hours():
    rule = _border_rule()
    value = value_pair(rule.pairs[("AT", "FR")], 50.0, 90.0, 0.25)
    assert value.path == ("AT", "DE-LU", "FR")
    assert value.capacity_mw == 4900
    assert value.value_eur == pytest.approx(40.0 * 4900 * 0.25)
    assert value.profit_eur is None
    assert value.congestion_value_eur == pytest.approx(40.0 * 4900 * 0.25)
    assert value.coupled
    assert "via DE-LU" in value.strategy


def test_direct_paths_leave_non_neighbours_unreachable():
    rule = compile_rule("direct", parse_rule_spec({"zones": ["FR", "NL"], "costModel": {"type": "border"}}))
    model = rule.pairs[("FR", "NL")]
    assert model.unreachable_reason and "no interconnector" in model.unreachable_reason
    assert value_pair(model, 1.0, 100.0, 1.0) is None


def test_capacity_price_and_minimum_profit():
    rule = _border_rule(
        paths="direct",
        costModel={
            "type": "border",
            "borders": [{"zones": ["DE-LU", "FR"], "capacityPriceEurPerMWh": 5, "capacityMW": 10}],
        },
        minProfitEur=200,
    )
    value = value_pair(rule.pairs[("DE-LU", "FR")], 60.0, 80.0, 1.0)
    assert value.net_eur_mwh == 15.0 and value.capacity_mw == 10
    assert not is_opportunity(rule, value)  # 150 EUR < 200 EUR minimum profit


def test_vectorised_values_equal_scalar_values():
    rule = _border_rule(minNetSpreadEurPerMWh=1.0)
    rng = np.random.default_rng(7)
    for model in rule.pairs.values():
        if model.unreachable_reason:
            continue
        a = np.round(rng.normal(60, 80, 500), 2)
        b = np.where(rng.random(500) < 0.3, a, np.round(rng.normal(60, 80, 500), 2))
        arrays = value_pair_arrays(model, a, b)
        mask = opportunity_mask(rule, arrays, 1.0)
        for i in range(500):
            scalar = value_pair(model, float(a[i]), float(b[i]), 1.0)
            assert arrays.net_eur_mwh[i] == scalar.net_eur_mwh
            assert arrays.buy_is_first[i] == (scalar.buy_zone == model.pair[0])
            assert mask[i] == is_opportunity(rule, scalar)


def test_vectorised_gaps_are_never_opportunities():
    rule = proof_of_concept_rule()
    model = rule.pairs[("DE-LU", "FR")]
    arrays = value_pair_arrays(model, np.array([np.nan, 10.0]), np.array([100.0, np.nan]))
    assert not opportunity_mask(rule, arrays, 1.0).any()


def test_scalar_rounding_matches_numpy_to_the_cent():
    from inthegrid.domain.economics import round2

    rng = np.random.default_rng(3)
    values = np.concatenate(
        [rng.uniform(-5000, 5000, 100_000), np.round(rng.uniform(-500, 500, 100_000), 3) + 0.005]
    )
    assert all(round2(float(v)) == r for v, r in zip(values, np.round(values, 2), strict=True))
