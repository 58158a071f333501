"""The simulator price source: the pure model (simulator_model) driven by a simulated clock.

Simulated time starts at ``start`` and runs ``speed`` times faster than the wall clock. Every tick
the source yields, as one batch, the prices of every period whose delivery start has been reached
and that it has not yet yielded; the current period comes at once, so a demo shows prices within a
second. Prices depend on the period's index from ``start`` only, never on speed or tick, so two runs
with the same seed, start and zones publish the same prices (and the bus drops the repeats).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import numpy as np

from inthegrid.domain.markets import INTRADAY_AUCTIONS
from inthegrid.domain.prices import (
    DEFAULT_LIMITS,
    Market,
    Price,
    PriceLimits,
    Resolution,
    as_utc,
    floor_to_period,
    make_price,
)
from inthegrid.domain.zones import zone_code
from inthegrid.errors import ConfigError, ValidationError
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.intraday_model import IntradayDeviation
from inthegrid.sources.simulator_model import PriceModel

log = logging.getLogger(__name__)

# A batch never holds more than this many periods; a fast clock that falls behind catches up over
# several batches (without waiting between them) instead of building one huge batch.
MAX_PERIODS_PER_BATCH = 96 * 7


class SimulatorSource:
    """Deterministic simulated day-ahead (or intraday) prices for a set of zones."""

    name = "simulator"

    def __init__(
        self,
        zones: list[str],
        *,
        resolution: Resolution | str | int = Resolution.PT15M,
        market: Market | str = Market.DAY_AHEAD,
        seed: int = 42,
        volatility: float = 1.0,
        speed: float = 450.0,
        tick_seconds: float = 1.0,
        start: datetime | str | None = None,
        source: str = "simulator",
        limits: PriceLimits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0 or tick_seconds <= 0:
            raise ConfigError(f"speed and tick must be positive, got speed={speed}, tick={tick_seconds}")
        self.zones = [zone_code(z) for z in zones]
        self.resolution = resolution if isinstance(resolution, Resolution) else Resolution.parse(resolution)
        self.market = market if isinstance(market, Market) else Market.parse(market)
        moment = as_utc(start) if start is not None else datetime.now(UTC)
        self.start = floor_to_period(moment, self.resolution)
        self.seed, self.volatility = seed, volatility
        self.speed, self.tick_seconds = speed, tick_seconds
        self.source, self.limits = source, limits
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: FeedSettings) -> SimulatorSource:
        try:
            return cls(
                settings.feed_zones,
                resolution=settings.feed_resolution,
                market=settings.feed_market,
                seed=settings.simulator_seed,
                volatility=settings.simulator_volatility,
                speed=settings.simulator_speed,
                tick_seconds=settings.simulator_tick_seconds,
                start=settings.simulator_start,
                source=settings.feed_name,
                limits=settings.price_limits,
            )
        except ValidationError as exc:
            raise ConfigError(f"simulator settings: {exc}") from exc

    def _due_periods(self, elapsed_wall_seconds: float) -> int:
        """How many periods have started by simulated now (the one at ``start`` counts at once)."""
        simulated = elapsed_wall_seconds * self.speed
        return int(simulated // (self.resolution.value * 60)) + 1

    async def batches(self, stop: asyncio.Event) -> AsyncIterator[list[Price]]:
        model = PriceModel(self.zones, self.start, self.resolution, self.seed, self.volatility)
        # An intraday auction: the day-ahead model's price plus a calibrated deviation (intraday_model).
        deviation = (
            IntradayDeviation(self.market, len(self.zones), self.seed, self.volatility)
            if self.market in INTRADAY_AUCTIONS
            else None
        )
        began = self._clock()
        log.info(
            "simulating %s from %s at %gx (seed %d)",
            ",".join(self.zones),
            self.start.isoformat(),
            self.speed,
            self.seed,
        )
        while not stop.is_set():
            due = self._due_periods(self._clock() - began)
            count = min(due - model.periods_taken, MAX_PERIODS_PER_BATCH)
            if count > 0:
                first = model.periods_taken
                values = model.take(count)
                if deviation is not None:
                    values = values + deviation.take(count)
                yield self._prices(first, values)
                if due - model.periods_taken > 0:
                    await asyncio.sleep(0)  # behind: let others run, then continue without a tick wait
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_seconds)

    def _prices(self, first: int, values: np.ndarray) -> list[Price]:
        # The model keeps to the harmonised limits; a feed configured with narrower ones clips too.
        values = np.clip(values, *self.limits.bounds(self.market))
        published = datetime.now(UTC)
        step = self.resolution.delta
        batch = []
        for k, row in enumerate(values.tolist()):
            start = self.start + (first + k) * step
            for zone, value in zip(self.zones, row, strict=True):
                batch.append(
                    make_price(
                        zone,
                        start,
                        value,
                        resolution=self.resolution,
                        market=self.market,
                        source=self.source,
                        published_at=published,
                        limits=self.limits,
                    )
                )
        return batch
