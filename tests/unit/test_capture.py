"""Capture labels: each border's real allocation by date, and a path's weakest hop."""

from datetime import UTC, datetime

import pytest

from inthegrid.domain.capture import Capture, HopAllocation, LongTermRight, capture_of
from inthegrid.domain.economics import value_pair
from inthegrid.domain.rules import compile_rule, parse_rule_spec, proof_of_concept_rule

Y2019 = datetime(2019, 6, 1, tzinfo=UTC)
Y2023 = datetime(2023, 6, 1, tzinfo=UTC)
Y2025 = datetime(2025, 6, 1, tzinfo=UTC)


def test_a_coupled_border_is_congestion_income_with_an_ftr():
    label = capture_of(("DE-LU", "FR"), Y2023)
    (hop,) = label.hops
    assert hop.allocation is HopAllocation.COUPLED and hop.long_term_right is LongTermRight.FTR
    assert label.capture is Capture.CONGESTION_INCOME and not label.capturable and label.coupled


def test_swiss_borders_are_explicit_capacity_with_a_ptr():
    label = capture_of(("DE-LU", "CH"), Y2023)
    assert label.capture is Capture.EXPLICIT_CAPACITY and label.capturable and not label.coupled
    assert label.hops[0].long_term_right is LongTermRight.PTR


def test_gb_links_became_explicit_when_gb_left_market_coupling():
    assert capture_of(("FR", "GB"), Y2019).capture is Capture.CONGESTION_INCOME
    assert capture_of(("FR", "GB"), Y2023).capture is Capture.EXPLICIT_CAPACITY
    assert capture_of(("FR", "GB"), datetime(2020, 12, 31, 23, tzinfo=UTC)).coupled


def test_a_path_is_as_capturable_as_its_weakest_hop_and_names_it():
    label = capture_of(("CH", "DE-LU", "FR"), Y2023)
    assert [h.allocation for h in label.hops] == [HopAllocation.EXPLICIT, HopAllocation.COUPLED]
    assert label.capture is Capture.CONGESTION_INCOME
    assert label.weakest_hop == ("DE-LU", "FR")
    assert capture_of(("FR", "CH", "DE-LU"), Y2023).capturable


def test_flow_based_regions_mark_the_pairwise_approximation_by_date():
    assert capture_of(("DE-LU", "FR"), Y2019).flow_based == ("CWE",)
    assert capture_of(("DE-LU", "FR"), Y2023).flow_based == ("Core",)
    assert capture_of(("DE-LU", "CZ"), datetime(2022, 6, 8, tzinfo=UTC)).flow_based == ()
    assert capture_of(("DK1", "NO2"), Y2023).flow_based == ()
    assert capture_of(("DK1", "NO2"), Y2025).flow_based == ("Nordic",)
    assert capture_of(("DE-LU", "CH"), Y2025).flow_based == ()


def test_the_flat_model_is_labelled_by_the_real_border_not_by_its_cost():
    rule = proof_of_concept_rule()
    value = value_pair(rule.pairs[("DE-LU", "FR")], 60.0, 80.0, 1.0, Y2023)
    assert value is not None and (value.spread_eur_mwh, value.net_eur_mwh) == (20.0, 17.5)
    assert value.coupled and value.capture.capture is Capture.CONGESTION_INCOME
    assert value.profit_eur is None and value.value_eur == 17.5
    assert value.congestion_value_eur == 20.0


def test_a_flat_pair_without_an_interconnector_says_so():
    label = capture_of(("FR", "NL"), Y2023)
    (hop,) = label.hops
    assert not hop.interconnector and hop.long_term_right is None
    # Both zones are coupled day-ahead, so their spread is still congestion somewhere in the grid.
    assert hop.allocation is HopAllocation.COUPLED and label.capture is Capture.CONGESTION_INCOME
    assert capture_of(("CH", "NL"), Y2023).capture is Capture.NONE


def test_a_rule_price_on_a_coupled_border_does_not_make_it_capturable():
    spec = {
        "pairs": [["DE-LU", "FR"]],
        "costModel": {"type": "border", "borders": [{"zones": ["DE-LU", "FR"], "capacityPriceEurPerMWh": 3}]},
    }
    rule = compile_rule("priced", parse_rule_spec(spec))
    value = value_pair(rule.pairs[("DE-LU", "FR")], 50.0, 90.0, 1.0, Y2023)
    assert value is not None and not value.capture.capturable and value.profit_eur is None


def test_explicit_capacity_values_are_profit():
    spec = {"pairs": [["DE-LU", "CH"]], "costModel": {"type": "border"}}
    rule = compile_rule("ch", parse_rule_spec(spec))
    value = value_pair(rule.pairs[("CH", "DE-LU")], 90.0, 50.0, 1.0, Y2023)
    assert value is not None and value.path == ("DE-LU", "CH")
    assert value.profit_eur == pytest.approx((40.0 - 10.33) * 4000)
    assert value.congestion_value_eur is None


def test_routes_use_only_the_borders_a_rule_prices_unless_allowed():
    borders = [
        {"zones": ["DE-LU", "AT"], "transmissionCostEurPerMWh": 0.3, "capacityMW": 5400},
        {"zones": ["DE-LU", "FR"], "capacityMW": 5400},
    ]
    spec = {"pairs": [["DE-LU", "AT"]], "costModel": {"type": "border", "borders": borders}, "paths": "graph"}
    only = compile_rule("only", parse_rule_spec(spec))
    assert {r.path for r in only.pairs[("AT", "DE-LU")].forward} == {("AT", "DE-LU")}
    spec["costModel"]["allowUnpricedBorders"] = True  # type: ignore[index]
    more = compile_rule("more", parse_rule_spec(spec))
    assert ("AT", "CZ", "DE-LU") in {r.path for r in more.pairs[("AT", "DE-LU")].forward}
