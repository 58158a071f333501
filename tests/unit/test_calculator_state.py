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


def test_different_periods_do_not_pair():
    state = CalculatorState(proof_of_concept_rule())
    state.on_price(_price("DE", 60), NOW)
    assert state.on_price(_price("FR", 80, "2025-01-01T13:00Z"), NOW) == []
    assert state.on_price(_price("FR", 80, "2025-01-01T13:15Z", resolution=15), NOW) == []


def test_an_hourly_price_pairs_with_each_quarter_hour_of_its_hour():
    state = CalculatorState(proof_of_concept_rule())
    state.on_price(_price("DE", 60), NOW)  # hourly 12:00-13:00
    quarter = state.on_price(_price("FR", 80, "2025-01-01T12:30Z", resolution=15), NOW)
    (event,) = quarter
    assert (event.delivery_start.isoformat(), event.resolution.iso) == ("2025-01-01T12:30:00+00:00", "PT15M")
    assert event.value is not None and (event.value.net_eur_mwh, event.value.period_hours) == (17.5, 0.25)


def test_an_hourly_price_arriving_last_values_every_quarter_hour_already_known():
    state = CalculatorState(proof_of_concept_rule())
    for minute, value in ((0, 70.0), (15, 80.0), (30, 90.0), (45, 100.0)):
        state.on_price(_price("FR", value, f"2025-01-01T12:{minute:02d}Z", resolution=15), NOW)
    events = state.on_price(_price("DE", 60), NOW)
    nets = {e.delivery_start.minute: e.value.net_eur_mwh for e in events if e.pair == ("DE-LU", "FR")}
    assert nets == {0: 7.5, 15: 17.5, 30: 27.5, 45: 37.5}
    assert all(e.resolution.iso == "PT15M" for e in events)


def test_two_hourly_prices_are_valued_once_at_their_hour():
    state = CalculatorState(proof_of_concept_rule())
    state.on_price(_price("DE", 60), NOW)
    events = state.on_price(_price("FR", 80), NOW)
    assert [(e.resolution.iso, e.delivery_start.minute) for e in events] == [("PT60M", 0)]


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


def test_a_silent_source_stops_holding_the_book_and_its_forgotten_periods_are_ignored():
    state = CalculatorState(proof_of_concept_rule(), horizon=timedelta(hours=1))
    old = "2025-01-01T00:00Z"

    def price(zone, source, start, value=60.0):
        return make_price(zone, start, value, resolution=60, source=source, published_at=NOW)

    # Source "gone" priced one period and fell silent; "live" keeps publishing later periods.
    state.on_price(price("DE", "gone", old), NOW)
    assert state.on_price(price("FR", "gone", old, 90), NOW)  # an opportunity: the book tracks it
    hour = timedelta(hours=1)
    for k in range(12):
        start = datetime(2025, 1, 1, 1, tzinfo=UTC) + k * hour
        state.on_price(price("DE", "live", start), NOW + k * hour)
        state.on_price(price("FR", "live", start, 90), NOW + k * hour)
    # Within a horizon of wall time the silent source still holds the book at its period.
    state.prune(NOW + timedelta(minutes=30))
    assert any(key[1] == datetime(2025, 1, 1, tzinfo=UTC) for key in state.book._tracked)
    # After a whole horizon without a word from it, the book keeps only what "live" may still value.
    later = NOW + 12 * hour
    state.prune(later)
    assert min(key[1] for key in state.book._tracked) >= datetime(2025, 1, 1, 11, tzinfo=UTC)
    # Its price for the forgotten period, if it speaks again, is ignored rather than re-opened at revision 1.
    assert state.on_price(price("FR", "gone", old, 95), later) == []
    # A new source with older periods than the live one is still valued (it was never silent).
    state.on_price(price("DE", "backfill", "2024-06-01T00:00Z"), later)
    assert state.on_price(price("FR", "backfill", "2024-06-01T00:00Z", 90), later)
