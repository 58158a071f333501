"""Capacities, exchanges and flows parsed from real ENTSO-E and JAO documents.

Every expected value was read by hand from the fixture (the XML element is named next to it).
ENTSO-E writes a direction as out_Domain (power leaves) -> in_Domain (power arrives); the file names
("export"/"import") come from the repository the files were taken from and are not relied on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from inthegrid.domain.capacity import CapacityBook, CapacityKind
from inthegrid.errors import NotPublishedYetError, SourceError
from inthegrid.sources.entsoe.quantities import parse_quantities
from inthegrid.sources.jao import auction_quantities, read_jao_auctions

FIXTURES = Path(__file__).parents[1] / "fixtures"


def doc(name: str) -> bytes:
    return (FIXTURES / "entsoe" / name).read_bytes()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_a61_day_ahead_ntc_compressed_curve_holds_each_value_until_the_next_position() -> None:
    # emaps_ES_FR_capacity_day_ahead_export.xml: <type>A61</type>, out_Domain 10YFR-RTE------C,
    # in_Domain 10YES-REE------0, Period 2026-03-19T06:00Z..2026-03-20T23:00Z PT60M, curveType A03,
    # 9 <Point>s: position 1 = 3006, 5 = 2914, 9 = 2960, 12 = 3607, ..., 36 = 3607.
    qs = parse_quantities(doc("emaps_ES_FR_capacity_day_ahead_export.xml"))
    assert len(qs) == 9
    assert {(q.source, q.target, q.kind) for q in qs} == {("FR", "ES", CapacityKind.FORECAST)}
    book = CapacityBook.of(qs)
    get = lambda t: book.at("FR", "ES", CapacityKind.FORECAST, at(t))  # noqa: E731
    assert get("2026-03-19T06:00Z").mw == 3006  # position 1
    assert get("2026-03-19T09:00Z").mw == 3006  # positions 2-4 omitted: repeat position 1
    assert get("2026-03-19T10:00Z").mw == 2914  # position 5
    assert get("2026-03-19T17:00Z").mw == 3607  # position 12
    assert get("2026-03-20T22:00Z").mw == 3607  # position 36 holds to the period's end
    assert get("2026-03-20T23:00Z") is None  # after the period
    assert get("2026-03-19T05:00Z") is None  # before it
    assert book.at("ES", "FR", CapacityKind.FORECAST, at("2026-03-19T06:00Z")) is None


def test_a61_other_direction_and_a_daily_resolution() -> None:
    # _import.xml: out_Domain ES, in_Domain FR; position 1 = 1400, 6 = 1350, 12 = 1500, 20 = 1450.
    qs = parse_quantities(doc("emaps_ES_FR_capacity_day_ahead_import.xml"))
    assert [(q.source, q.target, q.mw) for q in qs] == [
        ("ES", "FR", 1400),
        ("ES", "FR", 1350),
        ("ES", "FR", 1500),
        ("ES", "FR", 1450),
    ]
    assert qs[1].start == at("2026-03-19T11:00Z")  # position 6 of a 06:00Z PT60M period
    # DK week-ahead: P1D, a single <Point> position 1 = 600 over 2026-02-16T23:00Z..2026-03-29T22:00Z
    # (out_Domain 10YDK-2--------M, in_Domain 10YDK-1--------W).
    (week,) = parse_quantities(doc("emaps_DK-DK1_DK-DK2_capacity_week_ahead_export.xml"))
    assert (week.source, week.target, week.mw) == ("DK2", "DK1", 600)
    assert (week.start, week.end) == (at("2026-02-16T23:00Z"), at("2026-03-29T22:00Z"))


def test_a11_physical_flows_keep_the_gaps_between_time_series() -> None:
    # emaps_DK-DK1_GB_exchange_exports.xml: <type>A11</type>, out_Domain DK1, in_Domain GB, curveType
    # A01; TimeSeries 1: 2023-12-20T17:00Z..2023-12-22T08:00Z (39 points, position 1 = 1362,
    # 2 = 102), TimeSeries 2: 09:00Z..11:00Z (2 points), TimeSeries 3: 13:00Z..16:00Z (3 points).
    qs = parse_quantities(doc("emaps_DK-DK1_GB_exchange_exports.xml"))
    assert len(qs) == 39 + 2 + 3
    assert all(q.kind is CapacityKind.PHYSICAL and (q.source, q.target) == ("DK1", "GB") for q in qs)
    book = CapacityBook.of(qs)
    assert book.at("DK1", "GB", CapacityKind.PHYSICAL, at("2023-12-20T17:00Z")).mw == 1362
    assert book.at("DK1", "GB", CapacityKind.PHYSICAL, at("2023-12-20T18:00Z")).mw == 102
    assert book.at("DK1", "GB", CapacityKind.PHYSICAL, at("2023-12-22T08:00Z")) is None  # gap
    assert book.at("DK1", "GB", CapacityKind.PHYSICAL, at("2023-12-22T11:00Z")) is None  # gap
    assert book.at("DK1", "GB", CapacityKind.PHYSICAL, at("2023-12-22T13:00Z")) is not None


def test_a09_scheduled_exchanges_by_contract_type() -> None:
    # emaps_BE_NL_exchange_forecast_exports.xml: <type>A09</type>, out_Domain BE, in_Domain NL, PT15M,
    # three A05 (total) TimeSeries then three A01 (day-ahead), one per day, 96 points each.
    # Second A05 series (line ~425): start 2024-03-24T23:00Z, position 1 = 446, 2 = 467, 3 = 534.
    every = parse_quantities(doc("emaps_BE_NL_exchange_forecast_exports.xml"))
    assert len(every) == 6 * 96
    total = parse_quantities(doc("emaps_BE_NL_exchange_forecast_exports.xml"), contract="A05")
    assert len(total) == 3 * 96 and {q.contract for q in total} == {"A05"}
    book = CapacityBook.of(total)
    values = [
        book.at("BE", "NL", CapacityKind.SCHEDULED, at(f"2024-03-24T23:{m:02d}Z")).mw for m in (0, 15, 30)
    ]
    assert values == [446, 467, 534]
    day_ahead = parse_quantities(doc("emaps_BE_NL_exchange_forecast_exports.xml"), contract="A01")
    # First A01 series (line 1220, start 2024-03-23T23:00Z): 0 at positions 1-16, 25 at 17-20;
    # only 12 A01 points in the document are non-zero.
    assert [q.mw for q in day_ahead[15:20]] == [0, 25, 25, 25, 25]
    assert day_ahead[16].start == at("2024-03-24T03:00Z")
    assert sum(q.mw > 0 for q in day_ahead) == 12
    # DK2->SE4 (out_Domain 10YDK-2--------M, in_Domain 10Y1001A1001A47J), first A05 point = 1264.
    first = parse_quantities(doc("emaps_DK-DK2_SE-SE4_exchange_forecast_exports.xml"))[0]
    assert (first.source, first.target, first.mw, first.contract) == ("DK2", "SE4", 1264, "A05")
    assert first.start == at("2023-12-20T23:00Z")


def test_a25_allocation_result_keeps_the_allocated_capacity_series_only() -> None:
    # The ENTSO-E guide sample (placeholder values): TimeSeries businessType A43 quantity 1234, 1235;
    # the businessType B05 series is a price and is skipped. out_Domain CZ, in_Domain SK.
    qs = parse_quantities(doc("entsoe-guide-sample_A25_explicit_allocations_SK-CZ.xml"))
    assert [(q.source, q.target, q.mw, q.kind) for q in qs] == [
        ("CZ", "SK", 1234, CapacityKind.AUCTION_ALLOCATED),
        ("CZ", "SK", 1235, CapacityKind.AUCTION_ALLOCATED),
    ]


def test_jao_daily_results_give_offered_and_allocated_capacity_per_hour() -> None:
    # jao_DE-CH_auctions_2019-01_raw_api_export.csv, auction DE-CH-D-DAILYPRODU-190110-01, product
    # B12: offeredCapacity 1192, allocatedCapacity 1191, auctionPrice 0.56 (2019-01-10 11:00-12:00 CET).
    results = read_jao_auctions(FIXTURES / "jao" / "jao_DE-CH_auctions_2019-01_raw_api_export.csv")
    qs = auction_quantities(results)
    assert len(qs) == 2 * 744  # 31 daily auctions x 24 hours, offered and allocated
    book = CapacityBook.of(qs)
    moment = at("2019-01-10T10:00Z")
    assert book.at("DE-LU", "CH", CapacityKind.AUCTION_OFFERED, moment).mw == 1192
    assert book.at("DE-LU", "CH", CapacityKind.AUCTION_ALLOCATED, moment).mw == 1191
    assert book.at("CH", "DE-LU", CapacityKind.AUCTION_OFFERED, moment) is None
    (month,) = [r for r in results if r.horizon == "Monthly"]
    assert {q.mw for q in auction_quantities(results, "Monthly")} == {month.offered_mw} == {252.0}


def test_price_documents_and_acknowledgements_are_refused_or_reported() -> None:
    with pytest.raises(SourceError, match="A44 is not a border quantity"):
        parse_quantities(doc("emaps_FR_prices.xml"))
    with pytest.raises(NotPublishedYetError):
        parse_quantities(doc("jarvis_NL_A44_no_data_acknowledgement_2023-02-20.xml"))
    bad = doc("emaps_ES_FR_capacity_day_ahead_import.xml").replace(b"<quantity>1350<", b"<quantity>-5<")
    with pytest.raises(SourceError, match="not >= 0"):
        parse_quantities(bad)
    outside = doc("emaps_ES_FR_capacity_day_ahead_import.xml").replace(b"<position>20<", b"<position>99<")
    with pytest.raises(SourceError, match="outside the period"):
        parse_quantities(outside)


def test_a31_offered_capacity_is_read_with_the_same_structure() -> None:
    # No real A31 sample is in the data set: this is the real A61 document with only its <type>
    # changed, so it checks the routing by document type, not a real A31's content.
    a31 = doc("emaps_ES_FR_capacity_day_ahead_import.xml").replace(b"<type>A61</type>", b"<type>A31</type>")
    qs = parse_quantities(a31)
    assert {q.kind for q in qs} == {CapacityKind.OFFERED}
    assert [q.mw for q in qs] == [1400, 1350, 1500, 1450]
