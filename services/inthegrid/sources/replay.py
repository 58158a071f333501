"""Replay of a price table through the live pipeline, at a chosen speed.

One batch per block of consecutive delivery periods (one period at live speed, up to
MAX_PERIODS_PER_BATCH for a fast replay: see ``block_rows``), in order; period ``k`` is released
about ``(start_k - start_0) / speed`` wall seconds after the first (its block's last period's
time), so ``speed=86400`` replays a day per second. Each price is published
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

# A fast replay groups the periods falling within this much wall time into one batch (a block is
# released when its last period is due, so this is also the most a period waits).
BLOCK_SECONDS = 0.05
MAX_PERIODS_PER_BATCH = 96 * 7


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

    @staticmethod
    def block_rows(offsets: np.ndarray) -> int:
        """Periods per batch: as many as fall within BLOCK_SECONDS of wall time (at least one, at most
        MAX_PERIODS_PER_BATCH). Fixed for a table and speed, so a restarted replay sends the same
        messages; a fast replay fills the feed's per-zone bus messages instead of sending one period each."""
        if len(offsets) < 2:
            return 1
        step = float(np.median(np.diff(offsets)))
        return max(
            1, min(MAX_PERIODS_PER_BATCH, int(BLOCK_SECONDS / step) if step > 0 else MAX_PERIODS_PER_BATCH)
        )

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
        block = self.block_rows(offsets)
        for row in range(0, len(frame), block):
            last = min(row + block, len(frame))
            delay = began + offsets[last - 1] - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return
            batch = [
                p for r in range(row, last) if not np.isnan(values[r]).all() for p in self.period_prices(r)
            ]
            if batch:
                yield batch
        log.info("replay finished at %s", frame.index[-1].isoformat())
