"""The plausibility window at every entry point's decoder, and the calculator's source identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.codec import decode_event, decode_price
from inthegrid.domain.plausibility import TimeWindow, check_price
from inthegrid.domain.prices import as_utc, make_price
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.errors import DecodeError, ImplausibleTimeError, ValidationError
from inthegrid.platform.bus import decode_price_on
from inthegrid.platform.settings import CalculatorSettings

NOW = datetime(2026, 1, 15, 10, tzinfo=UTC)
GOOD = {
    "schema": "inthegrid.price.v1",
    "zone": "DE-LU",
    "market": "day_ahead",
    "delivery_start": "2026-01-15T11:00:00Z",
    "resolution": "PT15M",
    "price_eur_mwh": 80.5,
    "source": "simulator",
    "published_at": "2026-01-15T09:00:00Z",
}


def _msg(**changes: object) -> bytes:
    return orjson.dumps({**GOOD, **changes})


def test_a_plausible_price_decodes() -> None:
    assert decode_price(_msg(), now=NOW).eur_mwh == 80.5


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"delivery_start": "9999-12-31T23:45:00Z"}, "after now"),
        ({"delivery_start": "1970-01-01T00:00:00Z"}, "before the earliest plausible"),
        ({"published_at": "9999-12-31T23:59:59Z"}, "published_at"),
        ({"delivery_start": "2027-06-01T00:00:00Z"}, "after now"),
        ({"published_at": "0001-01-01T00:00:00+01:00"}, "representable"),
    ],
)
def test_implausible_times_are_refused_with_the_reason(changes: dict[str, object], words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        decode_price(_msg(**changes), now=NOW)


def test_the_window_is_configurable() -> None:
    settings = CalculatorSettings(
        plausible_max_lead_hours=1.0,
        plausible_earliest_delivery="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        plausible_clock_skew_seconds=0,
    )
    window = settings.time_window
    with pytest.raises(DecodeError, match=r"0\.0416667 days after now"):
        decode_price(_msg(delivery_start="2026-01-15T11:15:00Z"), window=window, now=NOW)
    with pytest.raises(DecodeError, match="before the earliest"):
        decode_price(_msg(delivery_start="2025-12-31T23:45:00Z"), window=window, now=NOW)
    with pytest.raises(DecodeError, match="in the future"):
        decode_price(_msg(published_at="2026-01-15T10:00:01Z"), window=window, now=NOW)
    assert decode_price(_msg(), window=window, now=NOW).zone == "DE-LU"
    with pytest.raises(ValueError, match="time zone"):
        CalculatorSettings(plausible_earliest_delivery="2026-01-01T00:00:00")  # type: ignore[arg-type]


def test_events_are_held_to_the_window_too() -> None:
    doc = {
        "schema": "inthegrid.opportunity.v1",
        "kind": "opened",
        "id": "x",
        "rule": "proof-of-concept",
        "market": "day_ahead",
        "pair": ["DE-LU", "FR"],
        "delivery_start": "9999-12-31T23:45:00Z",
        "resolution": "PT15M",
        "revision": 1,
        "detected_at": "2026-01-15T09:00:00Z",
        "value": None,
    }
    with pytest.raises(DecodeError, match="after now"):
        decode_event(orjson.dumps(doc), now=NOW)
    doc["delivery_start"] = "2026-01-15T11:00:00Z"
    assert decode_event(orjson.dumps(doc), now=NOW).revision == 1
    doc["detected_at"] = "9999-01-01T00:00:00Z"
    with pytest.raises(DecodeError, match="detected_at"):
        decode_event(orjson.dumps(doc), now=NOW)


def test_a_price_must_arrive_on_its_own_subject() -> None:
    window = TimeWindow(max_lead=timedelta(days=3650))
    settings = CalculatorSettings()
    data = _msg()
    assert (
        decode_price_on("inthegrid.prices.day_ahead.DE-LU", data, settings.price_limits, window).zone
        == "DE-LU"
    )
    for subject in ("inthegrid.prices.day_ahead.FR", "inthegrid.prices.intraday.DE-LU", "other"):
        with pytest.raises(DecodeError, match="arrived on"):
            decode_price_on(subject, data, settings.price_limits, window)


def test_calendar_edge_offsets_are_validation_errors_not_overflows() -> None:
    with pytest.raises(ValidationError, match="representable"):
        as_utc("0001-01-01T00:00:00+01:00")
    assert as_utc("9999-12-31T23:59:59-00:00").year == 9999


def test_check_price_names_zone_and_source() -> None:
    price = make_price("FR", "2030-01-01T00:00Z", 50, source="evil", published_at=NOW)
    with pytest.raises(ImplausibleTimeError, match="price for FR from evil"):
        check_price(TimeWindow(), price, NOW)


# --- the calculator: a price's identity includes its source ------------------------------------


def _price(zone: str, value: float, *, source: str = "feed", start: str = "2026-01-15T12:00Z", at=NOW):  # type: ignore[no-untyped-def]
    return make_price(zone, start, value, source=source, published_at=at)


def test_another_source_never_replaces_a_feeds_price() -> None:
    state = CalculatorState(proof_of_concept_rule())
    state.on_price(_price("DE", 60), NOW)
    (opened,) = state.on_price(_price("FR", 80), NOW)
    later = NOW + timedelta(minutes=5)
    assert state.on_price(_price("FR", 10, source="other", at=later), later) == []
    assert state.prices[("FR", opened.delivery_start, opened.resolution)].eur_mwh == 80
    assert state.ignored_other_source == 1
    # A newer publication from the same source is a correction and is taken.
    (updated,) = state.on_price(_price("FR", 90, at=later), later)
    assert updated.kind.value == "updated" and updated.value is not None and updated.value.sell_price == 90


def test_a_far_future_price_from_one_source_does_not_stop_another() -> None:
    state = CalculatorState(proof_of_concept_rule(), horizon=timedelta(hours=48))
    state.on_price(_price("DE", 60, source="other", start="2026-12-31T23:00Z"), NOW)
    state.prune()
    state.on_price(_price("DE", 60), NOW)
    assert state.on_price(_price("FR", 80), NOW)  # still valued: the other source's horizon is its own
    assert state.prune() == 0
    assert len(state.prices) == 3
