"""Replay of a price table through the live pipeline, at a chosen speed.

One batch per delivery period, in order; period ``k`` is released ``(start_k - start_0) / speed``
wall seconds after the first, so ``speed=86400`` replays a day per second. Each price is published
as if it became known at its own delivery start (``published_at`` = simulated time), which makes a
replay deterministic: the same table gives the same messages, and JetStream's de-duplication by
message id makes a restarted replay store nothing twice. Empty cells publish nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import numpy as np

from inthegrid.domain.prices import DEFAULT_LIMITS, Market, Price, PriceLimits, make_price
from inthegrid.domain.zones import zone_code
from inthegrid.errors import ConfigError, InTheGridError
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.table import PriceTable, read_table

log = logging.getLogger(__name__)


class ReplaySource:
    name = "replay"

    def __init__(
        self,
        table: PriceTable,
        zones: list[str] | None = None,
        *,
        speed: float = 86400.0,
        market: Market = Market.DAY_AHEAD,
        limits: PriceLimits = DEFAULT_LIMITS,
    ) -> None:
        if speed <= 0:
            raise ConfigError(f"replay speed must be positive, got {speed}")
        wanted = [zone_code(z) for z in zones] if zones else list(table.zones)
        missing = [z for z in wanted if z not in table.zones]
        if missing:
            log.warning("replay table has no column for %s; those zones get no prices", ", ".join(missing))
        self.zones = [z for z in wanted if z in table.zones]
        if not self.zones:
            raise ConfigError(f"the replay table has none of the zones {', '.join(wanted)}")
        self.table = table
        self.speed = speed
        self.market = market
        self.limits = limits
        self._values = table.frame[self.zones].to_numpy(dtype=float)

    @classmethod
    def from_settings(cls, settings: FeedSettings) -> ReplaySource:
        if settings.replay_path is None:
            raise ConfigError(
                "feed source replay needs INTHEGRID_REPLAY_PATH (a CSV, CSV.gz or Parquet table)"
            )
        table = read_table(settings.replay_path).between(settings.replay_from, settings.replay_to)
        if table.ignored_columns:
            log.warning(
                "replay table columns that are not zones were ignored: %s", ", ".join(table.ignored_columns)
            )
        return cls(
            table,
            settings.feed_zones,
            speed=settings.replay_speed,
            market=Market.parse(settings.feed_market),
            limits=settings.price_limits,
        )

    def period_prices(self, row: int) -> list[Price]:
        """The prices of one table row (one delivery period); invalid cells are logged and skipped."""
        start = self.table.frame.index[row].to_pydatetime()
        out = []
        for zone, value in zip(self.zones, self._values[row], strict=True):
            if np.isnan(value):
                continue
            try:
                out.append(
                    make_price(
                        zone,
                        start,
                        float(value),
                        resolution=self.table.period,
                        market=self.market,
                        source=self.name,
                        published_at=start,
                        limits=self.limits,
                    )
                )
            except InTheGridError as exc:
                log.warning("replay skips %s at %s: %s", zone, start.isoformat(), exc)
        return out

    async def batches(self, stop: asyncio.Event) -> AsyncIterator[list[Price]]:
        frame = self.table.frame
        if frame.empty:
            log.warning("replay table has no rows in the chosen range")
            return
        values = self._values
        offsets = (frame.index - frame.index[0]).total_seconds().to_numpy() / self.speed
        loop = asyncio.get_running_loop()
        began = loop.time()
        log.info(
            "replaying %d periods of %s from %s at %gx",
            len(frame),
            ",".join(self.zones),
            frame.index[0].isoformat(),
            self.speed,
        )
        for row in range(len(frame)):
            delay = began + offsets[row] - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return
            if np.isnan(values[row]).all():
                continue
            batch = self.period_prices(row)
            if batch:
                yield batch
        log.info("replay finished at %s", frame.index[-1].isoformat())
