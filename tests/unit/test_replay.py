"""Replay of a price table: one batch per period, in order, at the chosen speed, gaps publish nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from inthegrid.domain.prices import Resolution
from inthegrid.errors import ConfigError
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.base import PriceSource
from inthegrid.sources.replay import ReplaySource
from inthegrid.sources.table import read_table

SAMPLE = Path(__file__).parents[2] / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"


async def collect(source: ReplaySource, stop: asyncio.Event | None = None) -> list:
    stop = stop or asyncio.Event()
    return [batch async for batch in source.batches(stop)]


async def test_replays_a_day_from_settings_at_a_day_per_second() -> None:
    settings = FeedSettings.model_validate(
        dict(
            feed_source="replay",
            replay_path=SAMPLE,
            replay_from="2023-07-02",
            replay_to="2023-07-02",
            feed_zones="DE-LU,FR,NL",
            replay_speed=86400,
        )
    )
    source = ReplaySource.from_settings(settings)
    assert isinstance(source, PriceSource) and source.name == "replay"
    started = time.monotonic()
    batches = await collect(source)
    elapsed = time.monotonic() - started
    # Paced: 23 hours of simulated time after the first period take at least 23/24 s (a loaded machine
    # may take longer; that is not the replay's concern).
    assert elapsed >= 23 / 24 - 0.05
    assert len(batches) == 24
    starts = [b[0].delivery_start for b in batches]
    assert starts == sorted(starts) and len(set(starts)) == 24
    noon = next(b for b in batches if b[0].delivery_start.hour == 12)
    assert {(p.zone, p.eur_mwh) for p in noon} >= {("DE-LU", -500.0), ("NL", -500.0)}
    for batch in batches:
        assert {p.zone for p in batch} == {"DE-LU", "FR", "NL"}
        assert all(p.source == "replay" and p.resolution is Resolution.PT60M for p in batch)
        assert all(p.published_at == p.delivery_start for p in batch)


async def test_empty_cells_publish_nothing_and_missing_zones_are_skipped() -> None:
    table = read_table(SAMPLE).between("2022-09-02", "2022-09-03")  # 2022-09-03 is missing for FR
    source = ReplaySource.from_table(table, ["FR", "DK1", "PL"], speed=1e9)
    assert source.zones == ["FR", "DK1"]
    batches = await collect(source)
    fr = [p for b in batches for p in b if p.zone == "FR"]
    dk = [p for b in batches for p in b if p.zone == "DK1"]
    assert len(dk) == 48 and len(fr) == int(table.frame["FR"].count()) < 48


async def test_stop_ends_the_replay_promptly() -> None:
    # The feed's path (the file streamed); an hour per second: a month takes days.
    source = ReplaySource.from_path(SAMPLE, ["FR"], first="2024-01-01", last="2024-01-31", speed=3600)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    # The month would take 8.6 days at this speed: returning at all shows the stop was honoured.
    batches = await asyncio.wait_for(collect(source, stop), timeout=60)
    assert 1 <= len(batches) <= 2  # the second period is due 1 s in, after the stop at 0.3 s


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="REPLAY_PATH"):
        ReplaySource.from_settings(FeedSettings.model_validate(dict(feed_source="replay")))
    with pytest.raises(ConfigError, match="none of the zones"):
        ReplaySource.from_table(read_table(SAMPLE).between("2024-01-01", "2024-01-01"), ["PL"])
