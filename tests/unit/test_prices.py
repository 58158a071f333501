from datetime import UTC, datetime

import pytest

from inthegrid.domain.prices import Market, PriceLimits, Resolution, as_utc, floor_to_period, make_price
from inthegrid.errors import PriceOutOfRangeError, UnknownZoneError, ValidationError

T0 = "2025-10-01T10:15:00Z"


def test_price_carries_period_and_source():
    p = make_price("DE", T0, 60.004, resolution="PT15M", source="simulator", published_at=T0)
    assert p.zone == "DE-LU" and p.eur_mwh == 60.0
    assert p.delivery_end == datetime(2025, 10, 1, 10, 30, tzinfo=UTC)
    assert p.market is Market.DAY_AHEAD and p.resolution is Resolution.PT15M


def test_negative_prices_are_valid():
    assert make_price("NL", "2023-07-02T12:00Z", -500).eur_mwh == -500


@pytest.mark.parametrize("value", [-500.01, 4000.01, float("nan"), float("inf")])
def test_prices_outside_harmonised_limits_are_rejected(value):
    with pytest.raises(PriceOutOfRangeError, match="FR"):
        make_price("FR", "2024-01-01T00:00Z", value)


def test_limits_are_configurable():
    make_price("FR", "2024-01-01T00:00Z", 5000, limits=PriceLimits(-1000, 10000))
    with pytest.raises(PriceOutOfRangeError, match=r"\[-10, 10\]"):
        make_price("FR", "2024-01-01T00:00Z", 11, limits=PriceLimits(-10, 10))


def test_unknown_zone_is_rejected_by_name():
    with pytest.raises(UnknownZoneError, match="'ZZ'"):
        make_price("ZZ", "2024-01-01T00:00Z", 1)


def test_misaligned_or_naive_times_are_rejected():
    with pytest.raises(ValidationError, match="not aligned"):
        make_price("FR", "2024-01-01T00:10Z", 1, resolution=15)
    with pytest.raises(ValidationError, match="not aligned"):
        make_price("FR", "2024-01-01T00:15Z", 1, resolution=60)
    with pytest.raises(ValidationError, match="no time zone"):
        as_utc("2024-01-01T00:00")
    with pytest.raises(ValidationError, match="ISO 8601"):
        as_utc("yesterday")


def test_resolution_and_market_parsing():
    assert Resolution.parse("PT60M") is Resolution.PT60M
    assert Resolution.parse(15).hours == 0.25
    assert Resolution.parse("PT30M").hours == 0.5
    with pytest.raises(ValidationError, match="PT15M, PT30M, PT60M"):
        Resolution.parse("PT45M")
    assert Market.parse("day-ahead") is Market.DAY_AHEAD
    with pytest.raises(ValidationError):
        Market.parse("futures")


def test_floor_to_period():
    moment = datetime(2025, 1, 1, 10, 44, 59, tzinfo=UTC)
    assert floor_to_period(moment, Resolution.PT15M).minute == 30
    assert floor_to_period(moment, Resolution.PT60M).minute == 0


def test_message_id_is_stable_and_changes_with_a_correction():
    a = make_price("FR", T0, 10, resolution=15, source="entsoe", published_at="2025-09-30T11:00Z")
    b = make_price("FR", T0, 10, resolution=15, source="entsoe", published_at="2025-09-30T12:00Z")
    c = make_price("FR", T0, 11, resolution=15, source="entsoe")
    assert a.message_id == b.message_id != c.message_id


def test_price_limits_are_per_market():
    with pytest.raises(ValidationError, match=r"\[-500, 4000\] EUR/MWh of the day_ahead market"):
        make_price("DE", "2025-01-01T00:00Z", 5000)
    # Intraday has its own, wider limits: a valid intraday price is not refused with day-ahead's.
    assert make_price("DE", "2025-01-01T00:00Z", 5000, market="intraday").eur_mwh == 5000.0
    assert make_price("DE", "2025-01-01T00:00Z", -1000, market="intraday").eur_mwh == -1000.0
    with pytest.raises(ValidationError, match="intraday market"):
        make_price("DE", "2025-01-01T00:00Z", 10000, market="intraday")


def test_de_at_lu_is_accepted_for_the_dates_it_existed():
    assert make_price("DE-AT-LU", "2018-09-30T21:00Z", 50).zone == "DE-AT-LU"
    assert make_price("10Y1001A1001A63L", "2017-01-01T00:00Z", 50).zone == "DE-AT-LU"
    with pytest.raises(ValidationError, match="existed until 2018-09-30"):
        make_price("DE-AT-LU", "2018-09-30T22:00Z", 50)


def test_half_hour_prices_align_to_half_hours():
    assert make_price("GB", "2025-01-01T00:30Z", 50, resolution="PT30M").resolution is Resolution.PT30M
    with pytest.raises(ValidationError, match="not aligned"):
        make_price("GB", "2025-01-01T00:15Z", 50, resolution="PT30M")
