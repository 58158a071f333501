"""Simulated intraday-auction prices: day-ahead plus a deviation calibrated on the real ES documents."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inthegrid.domain.prices import Market
from inthegrid.errors import ConfigError
from inthegrid.sources.intraday_model import CALIBRATION_PATH, IntradayDeviation
from inthegrid.sources.simulator import SimulatorSource
from inthegrid.sources.simulator_model import PriceModel
from tests.unit.test_simulator import FakeClock, _collect_until

CALIBRATION = json.loads(CALIBRATION_PATH.read_text())


def test_calibration_says_what_it_rests_on() -> None:
    assert "ES only" in CALIBRATION["basis"] and "four days" in CALIBRATION["basis"]
    assert [CALIBRATION[m]["periods"] for m in ("ida1", "ida2", "ida3")] == [384, 384, 144]


@pytest.mark.parametrize("market", [Market.IDA1, Market.IDA2, Market.IDA3])
def test_deviation_has_the_calibrated_spread_and_persistence(market: Market) -> None:
    params = CALIBRATION[market.value]
    series = IntradayDeviation(market, 2, seed=3).take(50_000)
    for zone in range(2):
        d = series[:, zone]
        assert d.std() == pytest.approx(params["std_eur_mwh"], rel=0.05)
        assert d.mean() == pytest.approx(params["mean_eur_mwh"], abs=1.0)
        assert np.corrcoef(d[:-1], d[1:])[0, 1] == pytest.approx(params["lag1_autocorrelation"], abs=0.03)
    # Deterministic: the same seed gives the same series, in one piece or in chunks.
    chunked = IntradayDeviation(market, 2, seed=3)
    assert np.array_equal(np.vstack([chunked.take(10), chunked.take(90)]), series[:100])


def test_continuous_intraday_has_nothing_to_calibrate_on() -> None:
    with pytest.raises(ConfigError, match="only the intraday auctions"):
        IntradayDeviation(Market.INTRADAY, 1, seed=1)


async def test_simulator_gives_ida_prices_around_the_day_ahead_ones() -> None:
    clock = FakeClock()
    start = "2025-06-02T10:00:00Z"
    source = SimulatorSource(
        ["DE-LU", "FR"], market="ida2", speed=90000.0, tick_seconds=0.01, seed=7, clock=clock, start=start
    )
    batches = await _collect_until(source, clock, 1.0, periods=101)
    prices = [p for b in batches for p in b]
    assert {p.market for p in prices} == {Market.IDA2}
    de = sorted((p.delivery_start, p.eur_mwh) for p in prices if p.zone == "DE-LU")
    day_ahead = PriceModel(["DE-LU", "FR"], start, "PT15M", seed=7).take(len(de))[:, 0]
    expected = day_ahead + IntradayDeviation(Market.IDA2, 2, seed=7).take(len(de))[:, 0]
    assert [v for _, v in de] == pytest.approx(np.round(expected, 2).tolist(), abs=0.006)
    assert not np.allclose([v for _, v in de], day_ahead, atol=0.5)
