"""A44 parsing on real ENTSO-E documents (tests/fixtures/entsoe, see its ATTRIBUTION.md)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inthegrid.domain.prices import Market, Resolution
from inthegrid.errors import NotPublishedYetError, SourceError
from inthegrid.sources.entsoe.parse import MAX_DOCUMENT_BYTES, parse_points, parse_prices

FIXTURES = Path(__file__).parents[1] / "fixtures" / "entsoe"
NL_GAP = "jarvis_NL_A44_day_ahead_2025-04-02_A03_gap_negative.xml"
DE_PT15M = "openhab_DE-LU_A44_day_ahead_2025-10-31_PT15M_two_sequences.xml"


def doc(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_nl_a03_forward_fills_the_omitted_position() -> None:
    prices = parse_prices(doc(NL_GAP))
    assert len(prices) == 24
    assert {p.zone for p in prices} == {"NL"}
    by_start = {p.delivery_start: p.eur_mwh for p in prices}
    assert by_start[at("2025-04-02T18:00Z")] == 114.0  # position 21, omitted in the document
    assert round(statistics.mean(by_start.values()), 4) == 51.2721
    assert min(prices, key=lambda p: p.eur_mwh).delivery_start == at("2025-04-02T12:00Z")
    assert sum(p.eur_mwh < 0 for p in prices) == 7


def test_published_at_is_the_documents_creation_time() -> None:
    prices = parse_prices(doc(NL_GAP))
    assert {p.published_at for p in prices} == {at("2025-04-04T06:50:56Z")}
    assert {p.source for p in prices} == {"entsoe"}
    assert {p.market for p in prices} == {Market.DAY_AHEAD}


def test_de_lu_pt15m_keeps_sdac_sequence_1() -> None:
    prices = parse_prices(doc(DE_PT15M))
    assert len(prices) == 192
    assert {p.resolution for p in prices} == {Resolution.PT15M}
    by_start = {p.delivery_start: p.eur_mwh for p in prices}
    assert by_start[at("2025-10-30T23:00Z")] == 102.81
    assert by_start[at("2025-10-31T08:45Z")] == 66.15
    assert by_start[at("2025-11-01T17:00Z")] == 87.21
    day1 = [p.eur_mwh for p in prices if p.delivery_start < at("2025-10-31T23:00Z")]
    day2 = [p.eur_mwh for p in prices if p.delivery_start >= at("2025-10-31T23:00Z")]
    assert (len(day1), len(day2)) == (96, 96)
    assert round(statistics.mean(day1), 4) == 93.2431
    assert round(statistics.mean(day2), 4) == 47.631


def test_sequence_2_is_a_different_auction() -> None:
    seq1 = {(p.start, p.eur_mwh) for p in parse_points(doc(DE_PT15M), sequence=1)}
    seq2 = {(p.start, p.eur_mwh) for p in parse_points(doc(DE_PT15M), sequence=2)}
    assert len(seq2) == 192  # forward-filled to full days too
    assert seq1 != seq2


def test_document_spanning_the_15_minute_go_live_has_both_resolutions() -> None:
    prices = parse_prices(doc("emaps_ES_day_ahead_price.xml"))
    hourly = [p for p in prices if p.resolution is Resolution.PT60M]
    quarter = [p for p in prices if p.resolution is Resolution.PT15M]
    assert (len(hourly), len(quarter)) == (48, 192)
    assert max(p.delivery_start for p in hourly) < min(p.delivery_start for p in quarter)


def test_a01_curve_and_hourly_documents() -> None:
    fr = parse_prices(doc("emaps_FR_prices.xml"))
    assert len(fr) == 48 and {p.zone for p in fr} == {"FR"}
    ch = parse_prices(doc("openhab_CH_A44_day_ahead_2025-11-26_27.xml"))
    top = max(ch, key=lambda p: p.eur_mwh)
    assert (len(ch), top.eur_mwh, top.delivery_start) == (48, 317.97, at("2025-11-26T15:00Z"))


@pytest.mark.parametrize(
    "name",
    [
        "jarvis_NL_A44_no_data_acknowledgement_2023-02-20.xml",
        "entsoe-guide-sample_acknowledgement_no_matching_data.xml",
    ],
)
def test_no_matching_data_is_not_published_yet(name: str) -> None:
    with pytest.raises(NotPublishedYetError, match="not published yet"):
        parse_prices(doc(name))


def test_other_acknowledgement_reasons_are_source_errors() -> None:
    text = doc("jarvis_NL_A44_no_data_acknowledgement_2023-02-20.xml").replace(
        b"<code>999</code>", b"<code>Z02</code>"
    )
    with pytest.raises(SourceError) as info:
        parse_prices(text)
    assert not isinstance(info.value, NotPublishedYetError)


def test_dst_day_is_23_or_25_points_from_the_document() -> None:
    # A synthetic autumn clock-change day built from the real NL document's structure: 25 hours.
    text = doc(NL_GAP).decode()
    text = text.replace("2025-04-01T22:00Z", "2025-10-25T22:00Z").replace(
        "2025-04-02T22:00Z", "2025-10-26T23:00Z"
    )
    prices = parse_prices(text.encode())
    assert len(prices) == 25  # A03: positions 25 forward-filled from position 24
    assert prices[-1].delivery_start == at("2025-10-26T22:00Z")


HOSTILE = {
    "truncated": doc(NL_GAP)[:1500],
    "wrong_namespace": doc(NL_GAP).replace(b"publicationdocument:7:3", b"somethingelse:1:0"),
    "billion_laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
    "external_entity": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    "empty": b"",
    "not_xml": b"<html><body>Service Unavailable</body></html",
    "other_document_type": doc(NL_GAP).replace(b"<type>A44</type>", b"<type>A65</type>"),
    "unknown_zone": doc(NL_GAP).replace(b"10YNL----------L", b"10YXX----------X"),
    "bad_number": doc(NL_GAP).replace(b"<price.amount>65.63<", b"<price.amount>abc<"),
    "price_beyond_limits": doc(NL_GAP).replace(b"<price.amount>65.63<", b"<price.amount>99999<"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_malformed_or_hostile_documents_are_refused_with_a_source_error(name: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_prices(HOSTILE[name])
    assert not isinstance(info.value, NotPublishedYetError)
    assert str(info.value)


def test_huge_documents_are_refused_before_parsing() -> None:
    huge = b"<a>" + b" " * (MAX_DOCUMENT_BYTES + 1) + b"</a>"
    with pytest.raises(SourceError, match="exceeds"):
        parse_prices(huge)
