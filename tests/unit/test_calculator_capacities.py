"""The calculator re-values open periods when a capacity is published, and says what it used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inthegrid.backtest.manifest import load_rule
from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.capacity import BorderQuantity, CapacityKind
from inthegrid.domain.capacity_codec import decode_quantity, encode_quantity, quantity_message_id
from inthegrid.domain.codec import decode_event, encode_event
from inthegrid.domain.opportunities import EventKind
from inthegrid.domain.prices import make_price
from inthegrid.errors import DecodeError

RULES = Path(__file__).parents[1] / "fixtures" / "rules"
START = datetime(2025, 1, 1, 12, tzinfo=UTC)
NOW = datetime(2025, 1, 1, 11, tzinfo=UTC)
HOUR = timedelta(hours=1)


def price(zone: str, value: float):
    return make_price(zone, START, value, source="test", published_at=NOW)


def quantity(mw: float, kind: CapacityKind, source: str = "DE-LU", target: str = "CH") -> BorderQuantity:
    return BorderQuantity(source, target, START, START + HOUR, mw, kind, "test")


def test_published_capacity_updates_then_closes_an_explicit_border_opportunity() -> None:
    state = CalculatorState(load_rule(RULES / "de-ch-explicit.yaml"))
    state.on_price(price("DE-LU", 50), NOW)
    (opened,) = state.on_price(price("CH", 90), NOW)
    assert opened.kind is EventKind.OPENED and opened.value.capacity_source == "static"
    static_mw = opened.value.capacity_mw
    (updated,) = state.on_capacity(quantity(1192, CapacityKind.AUCTION_OFFERED), NOW)
    assert updated.kind is EventKind.UPDATED
    assert updated.value.capacity_mw == 1192 != static_mw
    assert updated.value.capacity_source == "DE-LU->CH:auction_offered"
    assert updated.value.value_eur == pytest.approx(updated.value.net_eur_mwh * 1192, abs=0.01)
    # The whole offer is scheduled: nothing left in that direction, so no value to capture.
    (closed,) = state.on_capacity(quantity(1192, CapacityKind.SCHEDULED), NOW)
    assert closed.kind is EventKind.CLOSED
    # The event carries the provenance across the bus.
    assert decode_event(encode_event(updated)).value.capacity_source == "DE-LU->CH:auction_offered"


def test_a_capacity_for_another_period_or_direction_changes_nothing() -> None:
    state = CalculatorState(load_rule(RULES / "de-ch-explicit.yaml"))
    state.on_price(price("DE-LU", 50), NOW)
    state.on_price(price("CH", 90), NOW)
    later = BorderQuantity("DE-LU", "CH", START + HOUR, START + 2 * HOUR, 10, CapacityKind.OFFERED)
    assert state.on_capacity(later, NOW) == []
    assert state.on_capacity(quantity(10, CapacityKind.OFFERED, "CH", "DE-LU"), NOW) == []


def test_quantity_codec_round_trip_and_strict_decoding() -> None:
    q = quantity(1192.5, CapacityKind.FORECAST)
    assert decode_quantity(encode_quantity(q)) == q
    assert quantity_message_id(q) != quantity_message_id(quantity(1000, CapacityKind.FORECAST))
    for bad in (b"nope", b'{"schema": "x"}', encode_quantity(q).replace(b"1192.5", b"-3")):
        with pytest.raises(DecodeError):
            decode_quantity(bad)
