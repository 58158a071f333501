"""Replay of a price table through the live pipeline, at a chosen speed, streamed row by row.

One batch per block of consecutive delivery periods (one period at live speed, up to
MAX_PERIODS_PER_BATCH for a fast replay: see ``block_rows``), in order; period ``k`` is released
about ``(start_k - start_0) / speed`` wall seconds after the first (its block's last period's
time), so ``speed=86400`` replays a day per second. Each price is published
as if it became known at its own delivery start (``published_at`` = simulated time), which makes a
replay deterministic: the same table gives the same messages, and JetStream's de-duplication by
message id makes a restarted replay store nothing twice. Empty cells publish nothing.

A file is read as it is replayed (sources/table_stream.py, one row at a time; never pandas), so five
years cost the memory of one block; each row is checked on the way (sources/replay_rows.py) and a bad
one is rejected with its line and reason, logged and counted, while the others are replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from inthegrid.domain.prices import DEFAULT_LIMITS, Market, Price, PriceLimits, Resolution, make_price
from inthegrid.domain.zones import zone_code
from inthegrid.errors import ConfigError, InTheGridError
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.replay_rows import RejectedRow, ReplayRow, checked_rows, infer_step, sample_starts
from inthegrid.sources.table_range import range_bound
from inthegrid.sources.table_stream import open_table_rows

if TYPE_CHECKING:
    from inthegrid.sources.table import PriceTable

log = logging.getLogger(__name__)

# A fast replay groups the periods falling within this much wall time into one batch (a block is
# released when its last period is due, so this is also the most a period waits).
BLOCK_SECONDS = 0.05
MAX_PERIODS_PER_BATCH = 96 * 7

Row = ReplayRow | RejectedRow
Rows = Callable[[], Generator[Row, None, None]]  # a new pass over the rows, from the first


def block_rows(period: Resolution, speed: float) -> int:
    """Periods per batch: as many as fall within BLOCK_SECONDS of wall time (at least one, at most
    MAX_PERIODS_PER_BATCH). Fixed for a table's period and a speed, so a restarted replay sends the
    same messages; a fast replay fills the feed's per-zone bus messages instead of sending one period each."""
    step = period.value * 60 / speed
    return max(1, min(MAX_PERIODS_PER_BATCH, int(BLOCK_SECONDS / step)))


class ReplaySource:
    name = "replay"

    def __init__(
        self,
        rows: Rows,
        columns: Sequence[str],
        period: Resolution,
        zones: list[str] | None = None,
        *,
        speed: float = 86400.0,
        market: Market = Market.DAY_AHEAD,
        limits: PriceLimits = DEFAULT_LIMITS,
        origin: str = "table",
    ) -> None:
        if speed <= 0:
            raise ConfigError(f"replay speed must be positive, got {speed}")
        wanted = [zone_code(z) for z in zones] if zones else list(columns)
        missing = [z for z in wanted if z not in columns]
        if missing:
            log.warning("replay table has no column for %s; those zones get no prices", ", ".join(missing))
        self.zones = [z for z in wanted if z in columns]
        if not self.zones:
            raise ConfigError(f"the replay table has none of the zones {', '.join(wanted)}")
        self._positions = [list(columns).index(z) for z in self.zones]
        self.rows = rows
        self.period = period
        self.speed = speed
        self.market = market
        self.limits = limits
        self.origin = origin
        self.rejected_rows = 0  # rows refused so far (each logged with its line and reason)

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        zones: list[str] | None = None,
        *,
        first: date | datetime | str | None = None,
        last: date | datetime | str | None = None,
        period: Resolution | None = None,
        speed: float = 86400.0,
        market: Market = Market.DAY_AHEAD,
        limits: PriceLimits = DEFAULT_LIMITS,
    ) -> ReplaySource:
        """A replay of a CSV, CSV.gz or Parquet file, read as it is replayed; ``first``/``last`` as
        ``PriceTable.between``; the period is inferred from the first rows unless given."""
        with open_table_rows(path) as (header, raw):
            if header.ignored_columns:
                log.warning(
                    "replay table columns that are not zones were ignored: %s",
                    ", ".join(header.ignored_columns),
                )
            period = period or infer_step(sample_starts(raw))
        start = range_bound(first, end=False) if first is not None else None
        end = range_bound(last, end=True) if last is not None else None

        def rows() -> Generator[Row, None, None]:
            with open_table_rows(path) as (_, raw):
                yield from checked_rows(raw, header.zones, period, start, end)

        return cls(
            rows, header.zones, period, zones, speed=speed, market=market, limits=limits, origin=str(path)
        )

    @classmethod
    def from_table(cls, table: PriceTable, zones: list[str] | None = None, **options: object) -> ReplaySource:
        """A replay of a table already in memory (tests, the backtest's tables)."""
        frame = table.frame

        def rows() -> Generator[Row, None, None]:
            for line, (start, values) in enumerate(zip(frame.index, frame.to_numpy(float), strict=True), 2):
                yield ReplayRow(line, start.to_pydatetime(), tuple(float(v) for v in values))

        return cls(rows, table.zones, table.period, zones, **options)  # type: ignore[arg-type]

    @classmethod
    def from_settings(cls, settings: FeedSettings) -> ReplaySource:
        if settings.replay_path is None:
            raise ConfigError(
                "feed source replay needs INTHEGRID_REPLAY_PATH (a CSV, CSV.gz or Parquet table)"
            )
        return cls.from_path(
            settings.replay_path,
            settings.feed_zones,
            first=settings.replay_from,
            last=settings.replay_to,
            speed=settings.replay_speed,
            market=Market.parse(settings.feed_market),
            limits=settings.price_limits,
        )

    def period_prices(self, row: ReplayRow) -> list[Price]:
        """The prices of one row (one delivery period); invalid cells are logged and skipped."""
        out = []
        for zone, position in zip(self.zones, self._positions, strict=True):
            value = row.values[position]
            if math.isnan(value):
                continue
            try:
                out.append(
                    make_price(
                        zone,
                        row.start,
                        value,
                        resolution=self.period,
                        market=self.market,
                        source=self.name,
                        published_at=row.start,
                        limits=self.limits,
                    )
                )
            except InTheGridError as exc:
                log.warning("replay skips %s at %s: %s", zone, row.start.isoformat(), exc)
        return out

    def _reject(self, row: RejectedRow) -> None:
        self.rejected_rows += 1
        log.warning("replay rejects line %d of %s: %s", row.line, self.origin, row.reason)

    async def batches(self, stop: asyncio.Event) -> AsyncIterator[list[Price]]:
        block = block_rows(self.period, self.speed)
        loop = asyncio.get_running_loop()
        began, first = 0.0, None
        last: ReplayRow | None = None
        held: list[ReplayRow] = []
        rows = self.rows()
        try:
            for row in rows:
                if isinstance(row, RejectedRow):
                    self._reject(row)
                    continue
                if first is None:
                    began, first = loop.time(), row.start
                    log.info(
                        "replaying %s of %s from %s at %gx",
                        self.origin,
                        ",".join(self.zones),
                        first.isoformat(),
                        self.speed,
                    )
                held.append(row)
                last = row
                if len(held) == block:
                    async for batch in self._release(held, began, first, stop):
                        yield batch
                    held = []
                if stop.is_set():
                    return
            if first is None:
                log.warning("replay table has no rows in the chosen range")
                return
            async for batch in self._release(held, began, first, stop):
                yield batch
            log.info("replay finished at %s", last.start.isoformat() if last else "?")
        finally:
            rows.close()

    async def _release(
        self, held: list[ReplayRow], began: float, first: datetime, stop: asyncio.Event
    ) -> AsyncIterator[list[Price]]:
        """A block's prices, once its last period is due (nothing if stopped meanwhile)."""
        if not held:
            return
        loop = asyncio.get_running_loop()
        delay = began + (held[-1].start - first).total_seconds() / self.speed - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            return
        batch = [p for row in held for p in self.period_prices(row)]
        if batch:
            yield batch
