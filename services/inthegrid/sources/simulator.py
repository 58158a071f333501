"""The simulator price source: the pure model (simulator_model) driven by a simulated clock.

Simulated time starts at ``start`` and runs ``speed`` times faster than the wall clock. Every tick
the source yields, as one batch, the prices of every period whose delivery start has been reached
and that it has not yet yielded; the current period comes at once, so a demo shows prices within a
second. Prices depend on the period's index from ``start`` only, never on speed or tick, so two runs
with the same seed, start and zones publish the same prices (and the bus drops the repeats).

A restart resumes rather than restarts: ``checkpoint()`` after each acknowledged batch records the
model's anchor (its ``start``) and the next period, and ``resume()`` continues the same simulation
from there, so every period keeps the one value it was first published with. Simulated time never
runs further ahead of the wall clock than the plausibility window allows (it then follows the wall
clock), so the simulator's own prices always pass the consumers' checks.
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
from inthegrid.domain.plausibility import DEFAULT_WINDOW, TimeWindow
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
        window: TimeWindow = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
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
        self.source, self.limits, self.window = source, limits, window
        self._clock, self._wall = clock, wall
        self.resume_index = 0  # the first period (counted from start) this run yields

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
                window=settings.time_window,
            )
        except ValidationError as exc:
            raise ConfigError(f"simulator settings: {exc}") from exc

    def checkpoint(self, yielded: list[Price]) -> dict[str, object]:
        """What a restart needs to continue this simulation after the prices in ``yielded``."""
        last = max(p.delivery_start for p in yielded)
        return {
            "anchor": self.start.isoformat(),
            "next": (last + self.resolution.delta).isoformat(),
            "seed": self.seed,
            "volatility": self.volatility,
            "resolution": self.resolution.iso,
            "market": self.market.value,
        }

    def resume(self, checkpoint: dict[str, object] | None) -> None:
        """Continue after a checkpoint: the same anchor when the model is the same (so periods keep
        their values), and never before the checkpoint's next period in any case."""
        if not checkpoint:
            return
        try:
            following = as_utc(str(checkpoint["next"]))
            same_model = (
                checkpoint.get("seed") == self.seed
                and checkpoint.get("volatility") == self.volatility
                and checkpoint.get("resolution") == self.resolution.iso
                and checkpoint.get("market") == self.market.value
            )
            anchor = as_utc(str(checkpoint["anchor"])) if same_model else self.start
        except (KeyError, ValidationError) as exc:
            log.warning("ignoring an unreadable simulator checkpoint (%s)", exc)
            return
        if not same_model:
            log.warning("the simulator's settings changed; a new simulation starts after %s", following)
        self.start = floor_to_period(anchor, self.resolution)
        step = self.resolution.delta
        self.resume_index = max(0, -(-(following - self.start) // step))  # ceiling division

    def _due_periods(self, elapsed_wall_seconds: float) -> int:
        """How many periods (counted from start) have started by simulated now: the first one of
        this run at once, then one per simulated period, but none beyond the window's lead."""
        simulated = elapsed_wall_seconds * self.speed
        due = self.resume_index + int(simulated // (self.resolution.value * 60)) + 1
        latest = self.window.latest_delivery(self._wall())
        allowed = (latest - self.start) // self.resolution.delta + 1
        return max(0, min(due, allowed))

    async def batches(self, stop: asyncio.Event) -> AsyncIterator[list[Price]]:
        model = PriceModel(self.zones, self.start, self.resolution, self.seed, self.volatility)
        # An intraday auction: the day-ahead model's price plus a calibrated deviation (intraday_model).
        deviation = (
            IntradayDeviation(self.market, len(self.zones), self.seed, self.volatility)
            if self.market in INTRADAY_AUCTIONS
            else None
        )
        # Periods before the resume point were published by an earlier run: draw and drop them (and
        # their intraday deviations), so the ones after keep the values this simulation gives them
        # (both models are sequential).
        while model.periods_taken < self.resume_index:
            skipped = min(self.resume_index - model.periods_taken, MAX_PERIODS_PER_BATCH)
            model.take(skipped)
            if deviation is not None:
                deviation.take(skipped)
            await asyncio.sleep(0)
        began = self._clock()
        log.info(
            "simulating %s from %s at %gx (seed %d)",
            ",".join(self.zones),
            (self.start + self.resume_index * self.resolution.delta).isoformat(),
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
