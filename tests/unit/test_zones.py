import pytest

from inthegrid.domain.zones import ZONES, get_zone, pair_key, pair_label, parse_pair, zone_code, zone_for_eic
from inthegrid.errors import UnknownZoneError, ValidationError


def test_country_alias_resolves_to_bidding_zone():
    assert zone_code("DE") == "DE-LU"
    assert zone_code("de_lu") == "DE-LU"
    assert zone_code("IT_NORD") == "IT-NORD"


def test_zone_carries_eic_and_timezone():
    de = get_zone("DE")
    assert (de.eic, de.timezone) == ("10Y1001A1001A82H", "Europe/Berlin")
    assert get_zone("FR").eic == "10YFR-RTE------C"


def test_eic_lookup_includes_historical_zone():
    assert zone_code("10YNL----------L") == "NL"
    assert zone_for_eic("10Y1001A1001A63L").code == "DE-AT-LU"
    with pytest.raises(UnknownZoneError):
        zone_code("10Y1001A1001A63L")  # DE-AT-LU is history, not a zone to trade


def test_unknown_zone_message_names_the_input_and_known_zones():
    with pytest.raises(UnknownZoneError, match=r"unknown bidding zone 'XX'.*DE-LU"):
        zone_code("XX")


def test_pairs_are_canonical():
    assert pair_key("FR", "DE") == ("DE-LU", "FR")
    assert pair_label(("DE-LU", "FR")) == "DE-LU/FR"


@pytest.mark.parametrize("text", ["DE-LU/FR", "FR/DE", "DE-FR", "DE-LU-FR", "FR-DE-LU", "de,fr"])
def test_parse_pair_accepts_the_spellings_users_write(text):
    assert parse_pair(text) == ("DE-LU", "FR")


def test_parse_pair_rejects_same_zone_and_nonsense():
    with pytest.raises(ValidationError, match="same zone twice"):
        parse_pair("DE/DE-LU")
    with pytest.raises(UnknownZoneError):
        parse_pair("FOO-BAR")


def test_every_zone_has_a_distinct_eic():
    assert len({z.eic for z in ZONES.values()}) == len(ZONES)
