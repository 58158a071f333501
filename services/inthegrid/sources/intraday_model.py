"""Simulated intraday-auction prices: the day-ahead price plus an AR(1) deviation per zone.

Calibrated on the only real intraday prices in the repository (intraday_calibration.json, written
by tools/calibrate_intraday.py): four days of ES, where each auction's deviation from day-ahead had
a mean of 0-1 EUR/MWh, a standard deviation of 12 (IDA1) to 23 (IDA3) EUR/MWh and a lag-1
autocorrelation of 0.4-0.6. One zone and four days: the figures are a rough guide, not a model of
any other zone or season. Continuous intraday has no real series here and is not modelled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inthegrid.domain.markets import INTRADAY_AUCTIONS
from inthegrid.domain.prices import Market
from inthegrid.errors import ConfigError

CALIBRATION_PATH = Path(__file__).with_name("intraday_calibration.json")


class IntradayDeviation:
    """Deterministic deviations from day-ahead for one auction: the same seed, the same series."""

    def __init__(self, market: Market, zones: int, seed: int, volatility: float = 1.0) -> None:
        if market not in INTRADAY_AUCTIONS:
            raise ConfigError(
                f"no calibration for {market.value}: only the intraday auctions (ida1, ida2, ida3) "
                "have real prices to calibrate on"
            )
        params = json.loads(CALIBRATION_PATH.read_text(encoding="utf-8"))[market.value]
        self.mean = float(params["mean_eur_mwh"])
        self.std = float(params["std_eur_mwh"]) * volatility
        self.phi = float(params["lag1_autocorrelation"])
        self._rng = np.random.default_rng([seed, INTRADAY_AUCTIONS.index(market) + 1])
        self._state = np.zeros(zones)

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` periods' deviations, shape (n, zones), EUR/MWh."""
        shocks = self._rng.standard_normal((n, len(self._state))) * self.std * np.sqrt(1.0 - self.phi**2)
        out = np.empty_like(shocks)
        state = self._state
        for k in range(n):
            state = self.phi * state + shocks[k]
            out[k] = state
        self._state = state
        return out + self.mean
