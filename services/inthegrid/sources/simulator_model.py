"""The simulator's pure price model: realistic-looking day-ahead prices for any set of zones.

Per delivery period every zone gets an *unconstrained* price

    level * F(t) * hour_profile(h) * weekday_profile(d)  + level * y_zone(t)  - solar(t) + spike(t)

where F is a common European factor (two mean-reverting Ornstein-Uhlenbeck processes in logs: a slow
one for fuel/weather regimes, a fast one for hour-to-hour noise), y is each zone's own OU deviation,
the profiles come from the real 2023-2024 data (calibration.json), ``solar`` is a midday dip that
grows with the season and the day's sunniness (deep enough on sunny days to push prices below zero)
and ``spike`` is a rare positive jump, more likely in peak hours.

Then market coupling: every implicit border between simulated zones is congested with a probability
that rises with the unconstrained price difference (``1 - exp(-|diff| / scale)``, scale tuned per
border so the share of equal prices matches the real one); zones joined by uncongested borders form
a cluster (union-find) that clears at one price, the market-size-weighted mean of its members.
Explicit borders (CH, GB) are never coupled. Prices are rounded to 2 decimals and clipped to the
harmonised limits.

Determinism: every zone of the grid is always simulated, and one numpy Generator(PCG64(seed)) is
consumed in whole-day blocks counted from ``start``, so the price of a zone in period k depends only
on (seed, start, resolution, volatility): never on how a run is chunked, nor on which other zones
were asked for.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from inthegrid.domain.grid import DEFAULT_GRID, Allocation, Grid
from inthegrid.domain.prices import (
    HARMONISED_MAX_EUR_MWH,
    HARMONISED_MIN_EUR_MWH,
    Resolution,
    as_utc,
    floor_to_period,
)
from inthegrid.domain.zones import ZONE_CODES, zone_code
from inthegrid.errors import ValidationError

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
# The SDAC delivery day and the calibration's hour profiles are on CET/CEST.
LOCAL_TZ = ZoneInfo("Europe/Brussels")
TUNING_START = datetime(2023, 1, 2, tzinfo=UTC)  # a Monday; tools/derive_calibration.py tunes from here
DEFAULT_CONGESTION_SCALE = 10.0  # EUR/MWh, before tuning
DEFAULT_SOLAR_DEPTH = 150.0  # EUR/MWh, before tuning

# Indicative annual electricity demand, TWh (public orders of magnitude): the weight of a zone in the
# price of a coupled cluster, so a big market moves a small neighbour more than the reverse.
MARKET_SIZE_TWH: dict[str, float] = {
    "DE-LU": 470,
    "FR": 450,
    "GB": 300,
    "ES": 240,
    "PL": 170,
    "IT-NORD": 150,
    "NL": 110,
    "BE": 80,
    "AT": 65,
    "CZ": 65,
    "CH": 60,
    "PT": 50,
    "NO2": 40,
    "HU": 40,
    "SK": 27,
    "SE4": 25,
    "DK1": 20,
    "DK2": 15,
    "SI": 14,
}


@dataclass(frozen=True, slots=True)
class ModelParameters:
    """Shape of the randomness; ``volatility`` scales every standard deviation and the spike rate."""

    slow_sigma: float = 0.36  # log std of the common regime factor
    slow_tau_hours: float = 120.0
    fast_sigma: float = 0.10  # log std of common hour-to-hour noise
    fast_tau_hours: float = 3.0
    idio_sigma: float = 0.12  # zone deviation, share of the zone's level
    idio_tau_hours: float = 8.0
    idio_tail_df: float = 3.0
    quarter_noise: float = 0.03  # extra noise of a quarter-hour around its hour, share of level
    spike_rate_per_hour: float = 0.0015
    spike_mean_share: float = 1.2  # mean spike height, share of the zone's level
    sun_mean: float = 0.55
    sun_sd: float = 0.3
    solar_peak_hour: float = 13.5  # local (CEST) solar noon plus the usual offset of the dip
    solar_width_hours: float = 2.3
    seasonal_dip_share: float = 0.6  # summer-minus-winter midday dip, share of the level
    negative_compression: float = 0.25


@cache
def load_calibration(path: str = str(CALIBRATION_PATH)) -> dict[str, Any]:
    """The shipped calibration summary (derived by tools/derive_calibration.py)."""
    result: dict[str, Any] = json.loads(Path(path).read_text())
    return result


@dataclass(frozen=True, slots=True)
class ZoneParameters:
    code: str
    level: float
    hour_profile: np.ndarray  # 24 ratios to the mean, by local hour
    weekday_profile: np.ndarray  # 7 ratios, Monday first
    solar_depth: float
    weight: float


def zone_parameters(zones: list[str], calibration: dict[str, Any]) -> list[ZoneParameters]:
    """Per-zone parameters; zones without data take their neighbours' level and the average shape."""
    stats = calibration["zones"]
    model = calibration.get("model", {})
    levels: dict[str, float] = {}
    for code, s in stats.items():
        if "recent" in s:
            levels[code] = s["recent"]["mean"]
        elif "derived_level" in s:
            levels[code] = s["derived_level"]["mean"]
    levels.update(model.get("level_eur_mwh", {}))
    profiles = [np.array(s["recent"]["hour_profile"]) for s in stats.values() if "recent" in s]
    weekdays = [np.array(s["recent"]["weekday_profile"]) for s in stats.values() if "recent" in s]
    mean_profile, mean_weekday = np.mean(profiles, axis=0), np.mean(weekdays, axis=0)
    depths = model.get("solar_depth_eur_mwh", {})
    mean_depth = float(np.mean(list(depths.values()))) if depths else DEFAULT_SOLAR_DEPTH
    _fill_levels_from_neighbours(levels)
    out = []
    for code in zones:
        recent = stats.get(code, {}).get("recent")
        out.append(
            ZoneParameters(
                code=code,
                level=levels[code],
                hour_profile=np.array(recent["hour_profile"]) if recent else mean_profile,
                weekday_profile=np.array(recent["weekday_profile"]) if recent else mean_weekday,
                solar_depth=float(depths.get(code, mean_depth)),
                weight=MARKET_SIZE_TWH.get(code, 30.0),
            )
        )
    return out


def _fill_levels_from_neighbours(levels: dict[str, float]) -> None:
    """Give every zone of the grid a level: the mean of its neighbours' levels, spreading outwards."""
    overall = float(np.mean(list(levels.values())))
    zones = {z for b in DEFAULT_GRID.borders for z in b.key}
    while missing := sorted(zones - set(levels)):
        found = {}
        for code in missing:
            known = [levels[n] for n in DEFAULT_GRID.neighbours(code) if n in levels]
            if known:
                found[code] = float(np.mean(known))
        if not found:
            found = dict.fromkeys(missing, overall)
        levels.update(found)
    for code in ZONE_CODES:
        levels.setdefault(code, overall)


def _ar1_matrix(phi: float, n: int) -> np.ndarray:
    """L with L[i, j] = phi**(i-j) for j <= i: x = L @ shocks + phi**(i+1) * x_prev runs an AR(1)."""
    i = np.arange(n)
    powers = i[:, None] - i[None, :]
    return np.where(powers >= 0, phi ** np.maximum(powers, 0), 0.0)


class PriceModel:
    """A stream of prices, one row per period and one column per zone (in the order asked for)."""

    def __init__(
        self,
        zones: list[str],
        start: datetime | str,
        resolution: Resolution | int | str,
        seed: int,
        volatility: float = 1.0,
        calibration: dict[str, Any] | None = None,
        params: ModelParameters | None = None,
        grid: Grid = DEFAULT_GRID,
    ) -> None:
        codes = [zone_code(z) for z in zones]
        if not codes or len(set(codes)) != len(codes):
            raise ValidationError(f"zones must be distinct and non-empty, got {zones!r}")
        if not volatility >= 0:
            raise ValidationError(f"volatility must be >= 0, got {volatility!r}")
        self.resolution = resolution if isinstance(resolution, Resolution) else Resolution.parse(resolution)
        self.start = as_utc(start)
        if self.start != floor_to_period(self.start, self.resolution):
            raise ValidationError(f"start {self.start.isoformat()} is not aligned to {self.resolution.iso}")
        self.zones = codes
        # Always simulate every zone of the grid (in sorted order) and return the columns asked for:
        # a zone's price then never depends on which other zones a caller lists, or in what order,
        # and coupling through zones the caller did not ask for (DE-LU - DK1 - NL) still happens.
        self._sorted = sorted(ZONE_CODES)
        self._out_columns = np.array([self._sorted.index(z) for z in codes])
        calibration = calibration if calibration is not None else load_calibration()
        self._p = params or ModelParameters()
        self._v = float(volatility)
        self._zp = zone_parameters(self._sorted, calibration)
        self._level = np.array([z.level for z in self._zp])
        self._weight = np.array([z.weight for z in self._zp])
        self._profiles = np.stack([z.hour_profile for z in self._zp], axis=1)  # (24, Z)
        self._weekdays = np.stack([z.weekday_profile for z in self._zp], axis=1)  # (7, Z)
        self._solar_depth = np.array([z.solar_depth for z in self._zp])
        self._borders, self._scales = self._coupled_borders(calibration, grid)
        self._dt = self.resolution.hours
        self._per_block = round(24 / self._dt)
        p = self._p
        z = len(self._sorted)
        self._phis = np.array(
            [math.exp(-self._dt / t) for t in (p.slow_tau_hours, p.fast_tau_hours)]
            + [math.exp(-self._dt / p.idio_tau_hours)] * z
        )
        self._sigmas = np.array([p.slow_sigma, p.fast_sigma] + [p.idio_sigma] * z) * self._v
        self._ar = {phi: _ar1_matrix(phi, self._per_block) for phi in set(self._phis.tolist())}
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._state = self._rng.standard_normal(len(self._phis)) * self._sigmas  # stationary start
        self._sun: dict[int, float] = {}  # sunniness by local date ordinal
        self._block = 0
        self._buffer = np.empty((0, len(self._sorted)))
        self.periods_taken = 0

    def _coupled_borders(self, calibration: dict[str, Any], grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        tuned = calibration.get("model", {}).get("congestion_scale_eur_mwh", {})
        default = float(np.median(list(tuned.values()))) if tuned else DEFAULT_CONGESTION_SCALE
        index = {z: i for i, z in enumerate(self._sorted)}
        pairs, scales = [], []
        for border in grid.borders:
            a, b = border.key
            if a in index and b in index and border.allocation is Allocation.IMPLICIT:
                pairs.append((index[a], index[b]))
                scales.append(float(tuned.get(f"{a}/{b}", default)))
        return np.array(pairs, dtype=int).reshape(-1, 2), np.array(scales)

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` periods' prices, shape (n, zones), continuing where the last call stopped."""
        if n < 0:
            raise ValidationError(f"cannot take {n} periods")
        while len(self._buffer) < n:
            self._buffer = np.concatenate([self._buffer, self._generate_block()])
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        self.periods_taken += n
        return out[:, self._out_columns]

    def _calendar(self, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Local fractional hour, weekday, date ordinal and day of year of each period in a block."""
        hours, weekdays, dates, doys = [], [], [], []
        for k in range(self._per_block):
            local = (self.start + (first + k) * self.resolution.delta).astimezone(LOCAL_TZ)
            hours.append(local.hour + local.minute / 60)
            weekdays.append(local.weekday())
            dates.append(local.toordinal())
            doys.append(local.timetuple().tm_yday)
        return np.array(hours), np.array(weekdays), np.array(dates), np.array(doys)

    def _generate_block(self) -> np.ndarray:
        n, z, p, v = self._per_block, len(self._sorted), self._p, self._v
        first = self._block * n
        self._block += 1
        hour, weekday, dates, doy = self._calendar(first)
        # Draws in a fixed order per block: this is what makes chunking irrelevant.
        shocks = self._rng.standard_normal((n, len(self._phis)))
        # Zone shocks are heavy-tailed (Student t, unit variance): spreads between zones are mostly
        # small with occasional large ones, as in the real data.
        shocks[:, 2:] = self._rng.standard_t(p.idio_tail_df, (n, z)) / math.sqrt(
            p.idio_tail_df / (p.idio_tail_df - 2)
        )
        quarter = self._rng.standard_normal((n, z)) if self.resolution is Resolution.PT15M else None
        congestion_draws = self._rng.random((n, len(self._borders)))
        spike_draws = self._rng.random((n, 3))
        for date in dict.fromkeys(dates.tolist()):
            if date not in self._sun:
                self._sun[date] = float(
                    np.clip(p.sun_mean + v * p.sun_sd * self._rng.standard_normal(), 0, 1)
                )
        self._sun = {d: s for d, s in self._sun.items() if d >= dates[-1] - 1}

        # Ornstein-Uhlenbeck processes (AR(1) per period) with stationary standard deviation sigma.
        scaled = shocks * self._sigmas * np.sqrt(1 - self._phis**2)
        paths = np.empty_like(scaled)
        for phi in self._ar:
            cols = self._phis == phi
            decay = phi ** np.arange(1, n + 1)[:, None]
            paths[:, cols] = self._ar[phi] @ scaled[:, cols] + decay * self._state[cols]
        self._state = paths[-1].copy()
        var = (p.slow_sigma**2 + p.fast_sigma**2) * v**2
        common = np.exp(paths[:, 0] + paths[:, 1] - var / 2)  # mean 1

        shape = self._hour_shape(hour) * self._weekdays[weekday]
        # Zone deviations scale with the common factor: spreads are wider when prices are high.
        prices = self._level * common[:, None] * (shape + paths[:, 2:])
        if quarter is not None:
            prices += self._level * p.quarter_noise * v * quarter
        prices -= self._solar(hour, dates, doy)
        prices += self._spikes(spike_draws, hour)
        # Below zero, renewables curtail rather than pay much to produce: negative prices are
        # mostly shallow (real 1 % quantiles are a few EUR below zero), so compress them.
        prices = np.where(prices < 0, p.negative_compression * prices, prices)
        return self._couple(prices, congestion_draws)

    def _hour_shape(self, hour: np.ndarray) -> np.ndarray:
        """Hour profile at each period; quarter-hours interpolate between hour centres (circularly)."""
        if self.resolution is Resolution.PT60M:
            return self._profiles[hour.astype(int)]
        x = hour + self._dt / 2 - 0.5  # position relative to the hour centres h + 0.5
        lo = np.floor(x).astype(int)
        frac = (x - lo)[:, None]
        return (1 - frac) * self._profiles[lo % 24] + frac * self._profiles[(lo + 1) % 24]

    def _solar(self, hour: np.ndarray, dates: np.ndarray, doy: np.ndarray) -> np.ndarray:
        """How much deeper than the yearly hour profile the midday dip is, in EUR/MWh per zone.

        Two parts: the season (the profile averages deep summer and shallow winter dips, so summer
        middays dip by a share of the level more and winter ones less) and the day's sunniness
        above the usual (a sunny summer day dips much deeper: negative prices).
        """
        p = self._p
        season = 0.5 + 0.5 * np.cos(2 * np.pi * (doy - 172) / 365.25)  # 0 in December, 1 in June
        sun = np.array([self._sun[d] for d in dates])
        bell = np.exp(-0.5 * ((hour + self._dt / 2 - p.solar_peak_hour) / p.solar_width_hours) ** 2)
        seasonal = (p.seasonal_dip_share * (season - 0.5) * bell)[:, None] * self._level
        # Only days sunnier than usual dip extra: a cloudy day lifts midday by the seasonal part alone.
        sunny = (season * np.maximum(sun - p.sun_mean, 0.0) * bell)[:, None] * self._solar_depth
        return np.asarray(seasonal + sunny)

    def _spikes(self, draws: np.ndarray, hour: np.ndarray) -> np.ndarray:
        """Rare positive jumps in one zone, more likely when the profile is high (peak hours)."""
        p, n, z = self._p, len(hour), len(self._sorted)
        peakiness = self._profiles.mean(axis=1) ** 4
        rate = p.spike_rate_per_hour * self._dt * self._v * peakiness[hour.astype(int)] / peakiness.mean()
        out = np.zeros((n, z))
        hit = np.nonzero(draws[:, 0] < rate)[0]
        zone = np.minimum((draws[hit, 1] * z).astype(int), z - 1)
        out[hit, zone] = self._level[zone] * p.spike_mean_share * -np.log(np.maximum(draws[hit, 2], 1e-12))
        return out

    def _couple(self, prices: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """Merge zones joined by uncongested borders into clusters that clear at one price."""
        n, z = prices.shape
        labels = np.tile(np.arange(z), (n, 1))
        if len(self._borders):
            a, b = self._borders[:, 0], self._borders[:, 1]
            congested = draws < 1 - np.exp(-np.abs(prices[:, a] - prices[:, b]) / self._scales)
            open_rows = [np.nonzero(~congested[:, k])[0] for k in range(len(a))]
            changed = True
            while changed:  # label propagation: each zone ends with the smallest index in its cluster
                changed = False
                for k in range(len(a)):
                    rows = open_rows[k]
                    la, lb = labels[rows, a[k]], labels[rows, b[k]]
                    low = np.minimum(la, lb)
                    if np.any(la != lb):
                        changed = True
                        labels[rows, a[k]] = low
                        labels[rows, b[k]] = low
        member = labels[:, :, None] == np.arange(z)[None, None, :]  # (n, zone, cluster)
        sums = np.einsum("nz,nzc->nc", prices * self._weight, member)
        weights = np.einsum("z,nzc->nc", self._weight, member)
        cluster = np.divide(sums, weights, out=np.zeros_like(sums), where=weights > 0)
        coupled = np.take_along_axis(cluster, labels, axis=1)
        return np.asarray(np.clip(np.round(coupled, 2), HARMONISED_MIN_EUR_MWH, HARMONISED_MAX_EUR_MWH))


def simulate_prices(
    zones: list[str],
    start: datetime | str,
    periods: int,
    resolution: Resolution | int | str = Resolution.PT60M,
    seed: int = 0,
    volatility: float = 1.0,
    calibration: dict[str, Any] | None = None,
) -> np.ndarray:
    """Prices for ``periods`` periods from ``start``: an array (periods, len(zones)) in EUR/MWh."""
    return PriceModel(zones, start, resolution, seed, volatility, calibration).take(periods)
