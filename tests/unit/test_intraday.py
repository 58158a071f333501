"""Intraday markets: the three auctions and continuous trading, their limits, times and documents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from inthegrid.calculator.state import CalculatorState
from inthegrid.cli import main
from inthegrid.domain.codec import decode_price, encode_price
from inthegrid.domain.markets import AUCTIONS, auction_of_sequence, known_when, market_resolution
from inthegrid.domain.prices import Market, Resolution, make_price
from inthegrid.domain.rules import compile_rule, parse_rule_spec
from inthegrid.errors import PriceOutOfRangeError, ValidationError
from inthegrid.sources.entsoe.parse import parse_prices

ES_INTRADAY = Path(__file__).parents[1] / "fixtures" / "entsoe" / "emaps_ES_intraday_price.xml"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_es_intraday_document_gives_each_auction_its_own_market() -> None:
    prices = parse_prices(ES_INTRADAY.read_bytes())
    by = {(p.market, p.delivery_start): p for p in prices}
    # Four days of IDA1 and IDA2 (96 quarter-hours each) and three half-days of IDA3 (48 each).
    counts = pd.Series([p.market.value for p in prices]).value_counts().to_dict()
    assert counts == {"ida1": 4 * 96, "ida2": 4 * 96, "ida3": 3 * 48}
    assert all(p.resolution is Resolution.PT15M and p.zone == "ES" for p in prices)
    # TimeSeries 1 (classificationSequence 1, Period start 2025-09-28T22:00Z): position 1 = 75.
    assert by[(Market.IDA1, at("2025-09-28T22:00Z"))].eur_mwh == 75.0
    # TimeSeries 3 (sequence 3, Period 2025-09-29T10:00Z-22:00Z): position 1 = 27.9, 2 = 22.2.
    assert by[(Market.IDA3, at("2025-09-29T10:00Z"))].eur_mwh == 27.9
    assert by[(Market.IDA3, at("2025-09-29T10:15Z"))].eur_mwh == 22.2
    # TimeSeries 5 (sequence 2, start 2025-09-29T22:00Z): position 1 = 94.96, position 2 omitted (A03).
    assert by[(Market.IDA2, at("2025-09-29T22:15Z"))].eur_mwh == 94.96
    # TimeSeries 9 (sequence 3, start 2025-10-01T10:00Z): position 1 = -9.34.
    assert by[(Market.IDA3, at("2025-10-01T10:00Z"))].eur_mwh == -9.34
    assert min(p.eur_mwh for p in prices) == -10.62
    # IDA3 trades only 12:00-24:00 CEST of its day, exactly what the document holds.
    start, end = AUCTIONS[Market.IDA3].delivery_window(date(2025, 9, 29))
    ida3 = [p.delivery_start for p in prices if p.market is Market.IDA3 and p.delivery_start.day == 29]
    assert (min(ida3), max(ida3)) == (start.astimezone(UTC), at("2025-09-29T21:45Z"))
    assert end.astimezone(UTC) == at("2025-09-29T22:00Z")


def test_auction_times_in_summer_and_winter() -> None:
    # IDA1 for 2025-10-02 closes 15:00 CEST the day before (13:00Z); results 20 minutes later.
    assert AUCTIONS[Market.IDA1].closes(date(2025, 10, 2)) == at("2025-10-01T13:00Z")
    assert known_when(Market.IDA1, at("2025-10-02T05:00Z")) == at("2025-10-01T13:20Z")
    assert AUCTIONS[Market.IDA2].closes(date(2026, 1, 15)) == at("2026-01-14T21:00Z")  # 22:00 CET
    assert AUCTIONS[Market.IDA3].closes(date(2026, 1, 15)) == at("2026-01-15T09:00Z")  # 10:00 CET on D
    assert known_when(Market.INTRADAY, at("2026-01-15T09:00Z")) is None  # continuous: no single time
    assert [auction_of_sequence(s) for s in (1, 2, 3, None)] == [
        Market.IDA1,
        Market.IDA2,
        Market.IDA3,
        Market.INTRADAY,
    ]
    with pytest.raises(ValidationError):
        auction_of_sequence(4)


def test_each_market_has_its_own_limits_and_resolution() -> None:
    make_price("ES", "2025-10-01T10:00Z", 5000, market="ida1", resolution=15)  # fine in intraday
    with pytest.raises(PriceOutOfRangeError, match="day_ahead"):
        make_price("ES", "2025-10-01T10:00Z", 5000, market="day_ahead")
    with pytest.raises(PriceOutOfRangeError, match="ida3"):
        make_price("ES", "2025-10-01T10:00Z", -10000, market="ida3", resolution=15)
    assert market_resolution("DE-LU", Market.DAY_AHEAD, at("2025-09-30T21:00Z")) is Resolution.PT60M
    assert market_resolution("DE-LU", Market.IDA1, at("2025-10-01T00:00Z")) is Resolution.PT15M
    assert market_resolution("GB", Market.IDA1, at("2025-10-01T00:00Z")) is Resolution.PT30M


def test_rules_watch_an_intraday_auction_and_prices_cross_the_bus() -> None:
    rule = compile_rule("ida", parse_rule_spec({"zones": ["ES", "FR"], "market": "ida2"}))
    state = CalculatorState(rule)
    now = at("2025-10-01T00:00Z")
    day_ahead = make_price("ES", "2025-10-01T10:00Z", 50, resolution=15, source="t", published_at=now)
    assert state.on_price(day_ahead, now) == []  # another market
    prices = [
        make_price(z, "2025-10-01T10:00Z", v, market="ida2", resolution=15, source="t", published_at=now)
        for z, v in (("ES", 50), ("FR", 80))
    ]
    state.on_price(decode_price(encode_price(prices[0])), now)
    (event,) = state.on_price(decode_price(encode_price(prices[1])), now)
    assert event.market is Market.IDA2 and event.value.sell_zone == "FR"


def test_convert_writes_one_intraday_auction(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ida3.csv"
    assert main(["convert", str(ES_INTRADAY), "--out", str(out)]) != 0
    assert "choose one with --market" in capsys.readouterr().err
    assert main(["convert", str(ES_INTRADAY), "--market", "ida3", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 3 * 48 and table.loc[0, "ES"] == 27.9


def test_the_arbitrage_rule_crd_accepts_every_market() -> None:
    from inthegrid_operator.specs import RULE_MARKETS

    assert set(RULE_MARKETS) == {m.value for m in Market}


def test_day_ahead_against_an_intraday_auction_in_one_zone_on_real_documents() -> None:
    from inthegrid.domain.cross_market import MARKET_TIMING, cross_market_value

    fixtures = ES_INTRADAY.parent
    da = {p.delivery_start: p for p in parse_prices((fixtures / "emaps_ES_day_ahead_price.xml").read_bytes())}
    ida = {(p.market, p.delivery_start): p for p in parse_prices(ES_INTRADAY.read_bytes())}
    t = at("2025-10-01T10:00Z")
    # Day-ahead: third TimeSeries (PT15M from 2025-09-30T22:00Z), position 49 = 26.76.
    # IDA3: TimeSeries 9 (from 2025-10-01T10:00Z), position 1 = -9.34.
    value = cross_market_value(da[t], ida[(Market.IDA3, t)])
    assert value is not None and value.capture == MARKET_TIMING
    assert value.spread_eur_mwh == 36.1 and value.value_eur_per_mw == 9.03  # a quarter-hour
    assert value.strategy == "sell ES in day_ahead at 26.76, buy back in ida3 at -9.34"
    # IDA1 (TimeSeries 7, position 49) follows day-ahead's results too.
    assert cross_market_value(da[t], ida[(Market.IDA1, t)]) is not None
    # Not a trade: IDA2 closes (22:00 D-1) before IDA3's results, so IDA3 -> IDA2 is backwards,
    # and IDA3 does not trade the morning.
    assert cross_market_value(ida[(Market.IDA3, t)], ida[(Market.IDA2, t)]) is None
    morning = at("2025-10-01T06:00Z")
    assert (Market.IDA3, morning) not in ida
    ida3_morning = make_price("ES", morning, 10, market="ida3", resolution=15, source="t")
    assert cross_market_value(da[morning], ida3_morning) is None
    with pytest.raises(ValidationError):
        cross_market_value(da[t], ida[(Market.IDA1, at("2025-10-01T10:15Z"))])
