from datetime import UTC, datetime, timedelta

from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.opportunities import EventKind
from inthegrid.domain.prices import make_price
from inthegrid.domain.rules import compile_rule, parse_rule_spec, proof_of_concept_rule

T = "2025-01-01T12:00Z"
NOW = datetime(2025, 1, 1, 11, tzinfo=UTC)


def _price(zone, value, start=T, resolution=60):
    return make_price(zone, start, value, resolution=resolution, source="test", published_at=NOW)


def test_new_price_revalues_only_pairs_of_its_zone():
    state = CalculatorState(proof_of_concept_rule())
    assert state.on_price(_price("DE", 60), NOW) == []  # no partner price yet
    events = state.on_price(_price("FR", 80), NOW)
    assert [(e.kind, e.pair) for e in events] == [(EventKind.OPENED, ("DE-LU", "FR"))]
    assert state.evaluations == 1
    state.on_price(_price("NL", 61), NOW)
    assert state.evaluations == 3  # DE-LU/NL and FR/NL, not DE-LU/FR again


def test_zones_and_markets_outside_the_rule_are_ignored():
    state = CalculatorState(proof_of_concept_rule())
    assert state.on_price(_price("CH", 10), NOW) == []
    intraday = make_price("DE", T, 1, market="intraday", source="t")
    assert state.on_price(intraday, NOW) == []
    assert not state.prices


def test_periods_do_not_mix():
    state = CalculatorState(proof_of_concept_rule())
    state.on_price(_price("DE", 60), NOW)
    assert state.on_price(_price("FR", 80, "2025-01-01T13:00Z"), NOW) == []
    assert state.on_price(_price("FR", 80, T, resolution=15), NOW) == []


def test_restart_reconcile_rederives_only_what_was_lost():
    before = CalculatorState(proof_of_concept_rule())
    before.on_price(_price("DE", 60), NOW)
    published = before.on_price(_price("FR", 80), NOW)
    # The crash lost the NL price's events: the new state restores published events and all prices.
    lost = before.on_price(_price("NL", 90), NOW)
    after = CalculatorState(proof_of_concept_rule())
    for e in published:
        after.book.restore(e)
    for zone, value in (("DE", 60), ("FR", 80), ("NL", 90)):
        after.remember(_price(zone, value))
    rederived = after.reconcile(NOW)
    assert [(e.pair, e.revision) for e in rederived] == [(e.pair, e.revision) for e in lost]
    assert [e.message_id for e in rederived] == [e.message_id for e in lost]


def test_redelivered_price_emits_nothing_new():
    state = CalculatorState(proof_of_concept_rule())
    state.on_price(_price("DE", 60), NOW)
    state.on_price(_price("FR", 80), NOW)
    assert state.on_price(_price("FR", 80), NOW) == []


def test_prune_bounds_memory_and_ignores_stale_prices():
    state = CalculatorState(proof_of_concept_rule(), horizon=timedelta(hours=1))
    state.on_price(_price("DE", 60), NOW)
    state.on_price(_price("DE", 60, "2025-01-01T15:00Z"), NOW)
    assert state.prune() == 1
    assert state.on_price(_price("FR", 80), NOW) == []  # older than the horizon
    assert len(state.prices) == 1


def test_graph_rule_uses_paths():
    rule = compile_rule(
        "r", parse_rule_spec({"zones": ["FR", "AT"], "costModel": {"type": "border"}, "paths": "graph"})
    )
    state = CalculatorState(rule)
    state.on_price(_price("FR", 10), NOW)
    (event,) = state.on_price(_price("AT", 50), NOW)
    assert event.value.path == ("FR", "DE-LU", "AT")
