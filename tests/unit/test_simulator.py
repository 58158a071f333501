"""The simulator: deterministic, shaped like the real market, and held to the real 2020-2024 statistics
summarised in calibration.json (derived by tools/derive_calibration.py; the data is not shipped)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest

from inthegrid.domain.plausibility import TimeWindow
from inthegrid.domain.prices import HARMONISED_MAX_EUR_MWH, HARMONISED_MIN_EUR_MWH, Resolution
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.base import PriceSource
from inthegrid.sources.simulator import SimulatorSource
from inthegrid.sources.simulator_model import PriceModel, load_calibration, simulate_prices

CWE = ["DE-LU", "FR", "NL", "BE", "AT"]
CWE_BORDERS = ["DE-LU/FR", "DE-LU/NL", "BE/DE-LU", "AT/DE-LU", "BE/FR", "BE/NL"]
START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
DAYS = 364  # a whole year, so seasonal figures compare with the real yearly ones
# Stated tolerances around the real figures (a simulated year is one sample, the real years differ):
SHARE_TOLERANCE = 0.05  # absolute, around the [min, max] of the real per-year shares
RECENT_SHARE_TOLERANCE = 0.06  # absolute, around the real 2023-2024 share the model is tuned to
NEGATIVE_TOLERANCE = 0.01  # absolute, around the [min, max] of the real per-year negative shares
SPREAD_TOLERANCE_EUR, SPREAD_TOLERANCE_SHARE = 10.0, 0.5  # |sim - real| <= 10 + 0.5 * |real|

CALIBRATION = load_calibration()


@pytest.fixture(scope="module")
def year() -> dict[str, np.ndarray]:
    prices = simulate_prices(CWE, START, DAYS * 24, Resolution.PT60M, seed=11)
    return {zone: prices[:, i] for i, zone in enumerate(CWE)}


def _local_hours(periods: int) -> tuple[np.ndarray, np.ndarray]:
    tz = ZoneInfo("Europe/Brussels")
    moments = [(START + timedelta(hours=k)).astimezone(tz) for k in range(periods)]
    return np.array([m.hour for m in moments]), np.array([m.weekday() for m in moments])


# --- determinism ------------------------------------------------------------------------------------


def test_same_seed_gives_identical_prices_and_another_seed_does_not() -> None:
    a = simulate_prices(CWE, START, 200, "PT15M", seed=5)
    b = simulate_prices(CWE, START, 200, "PT15M", seed=5)
    c = simulate_prices(CWE, START, 200, "PT15M", seed=6)
    assert np.array_equal(a, b)
    assert np.mean(a != c) > 0.9


def test_a_run_in_chunks_equals_one_long_run() -> None:
    whole = simulate_prices(CWE, START, 24 * 5 + 7, "PT60M", seed=3)
    model = PriceModel(CWE, START, "PT60M", seed=3)
    chunks = [model.take(n) for n in (1, 0, 23, 5, 50, 48)]
    assert np.array_equal(np.concatenate(chunks), whole)


def test_a_zone_price_does_not_depend_on_the_other_zones_asked_for() -> None:
    full = simulate_prices(CWE, START, 48, "PT60M", seed=9)
    subset = simulate_prices(["AT", "DE-LU"], START, 48, "PT60M", seed=9)
    assert np.array_equal(subset[:, 0], full[:, CWE.index("AT")])
    assert np.array_equal(subset[:, 1], full[:, 0])


def test_zones_without_data_get_prices_too() -> None:
    prices = simulate_prices(["PL", "GB", "SK"], START, 24, "PT60M", seed=1)
    assert prices.shape == (24, 3)
    assert np.all(np.isfinite(prices)) and prices.mean() > 0


# --- shape ------------------------------------------------------------------------------------------


def test_hour_profile_and_weekend_follow_the_calibration(year: dict[str, np.ndarray]) -> None:
    hours, weekdays = _local_hours(DAYS * 24)
    for zone in ("DE-LU", "FR"):
        real = np.array(CALIBRATION["zones"][zone]["recent"]["hour_profile"])
        sim = np.array([year[zone][hours == h].mean() for h in range(24)])
        assert np.corrcoef(real, sim)[0, 1] > 0.9
        # Evening peak above the midday dip, morning peak above the night, as in the real profile.
        assert np.sign(sim[19] - sim[13]) == np.sign(real[19] - real[13]) == 1
        assert np.sign(sim[8] - sim[3]) == np.sign(real[8] - real[3]) == 1
        assert year[zone][weekdays >= 5].mean() < year[zone][weekdays < 5].mean()


def test_pt15m_gives_96_periods_a_day_around_the_hourly_shape() -> None:
    spring = datetime(2025, 3, 24, tzinfo=UTC)  # mid-season: the yearly profile fits best
    day = PriceModel(["DE-LU"], spring, "PT15M", seed=2, volatility=0.0).take(96)[:, 0]
    assert day.shape == (96,)
    profile = np.array(CALIBRATION["zones"]["DE-LU"]["recent"]["hour_profile"])
    tz = ZoneInfo("Europe/Brussels")
    hours = [(spring + timedelta(hours=k)).astimezone(tz).hour for k in range(24)]
    # Without randomness the day follows the profile (coupling with neighbours still mixes in theirs).
    assert np.corrcoef(day.reshape(24, 4).mean(axis=1), profile[hours])[0, 1] > 0.9
    # Quarter-hours move smoothly between hours: a quarter-hour step is smaller than an hour step.
    assert np.abs(np.diff(day)).mean() < np.abs(np.diff(day.reshape(24, 4).mean(axis=1))).mean()


def test_prices_stay_within_the_harmonised_limits_even_when_very_volatile() -> None:
    prices = simulate_prices(CWE, START, 24 * 60, "PT60M", seed=4, volatility=10.0)
    assert prices.min() >= HARMONISED_MIN_EUR_MWH and prices.max() <= HARMONISED_MAX_EUR_MWH
    assert np.array_equal(prices, np.round(prices, 2))


# --- statistics held to the real data ---------------------------------------------------------------


@pytest.mark.parametrize("border", CWE_BORDERS)
def test_share_of_equal_neighbour_prices_matches_real_data(year: dict[str, np.ndarray], border: str) -> None:
    real = CALIBRATION["borders"][border]
    a, b = border.split("/")
    sim = float(np.mean(np.abs(year[a] - year[b]) < CALIBRATION["equal_epsilon_eur_mwh"]))
    yearly = [v["equal_share"] for v in real["by_year"].values()]
    assert min(yearly) - SHARE_TOLERANCE <= sim <= max(yearly) + SHARE_TOLERANCE, (sim, yearly)
    assert abs(sim - real["recent"]["equal_share"]) <= RECENT_SHARE_TOLERANCE, (sim, real["recent"])


def test_explicit_borders_never_couple() -> None:
    prices = simulate_prices(["DE-LU", "CH"], START, 24 * 30, "PT60M", seed=8)
    real = CALIBRATION["borders"]["CH/DE-LU"]["recent"]["equal_share"]
    assert np.mean(prices[:, 0] == prices[:, 1]) <= real + 0.01


@pytest.mark.parametrize("zone", CWE)
def test_share_of_negative_prices_matches_real_data(year: dict[str, np.ndarray], zone: str) -> None:
    real = CALIBRATION["zones"][zone]
    sim = float(np.mean(year[zone] < 0))
    yearly = [v["negative_share"] for v in real["by_year"].values()]
    assert max(0.0, min(yearly) - NEGATIVE_TOLERANCE) <= sim <= max(yearly) + NEGATIVE_TOLERANCE, (
        sim,
        yearly,
    )
    assert sim >= 0.5 * real["recent"]["negative_share"]


@pytest.mark.parametrize("border", CWE_BORDERS)
def test_spread_quantiles_match_real_data(year: dict[str, np.ndarray], border: str) -> None:
    real = CALIBRATION["borders"][border]["recent"]["spread_quantiles"]
    a, b = border.split("/")
    spread = year[a] - year[b]
    for q, value in real.items():
        sim = float(np.percentile(spread, float(q)))
        allowed = SPREAD_TOLERANCE_EUR + SPREAD_TOLERANCE_SHARE * abs(value)
        assert abs(sim - value) <= allowed, (border, q, sim, value)


# --- the source -------------------------------------------------------------------------------------


def _settings(**overrides: object) -> FeedSettings:
    values: dict[str, object] = {
        "feed_zones": "DE-LU,FR",
        "feed_resolution": "PT15M",
        "simulator_seed": 7,
        "simulator_start": "2025-06-02T10:00:00Z",
        "simulator_speed": 900.0,
        "simulator_tick_seconds": 0.05,
        "feed_name": "simulator",
    }
    values.update(overrides)
    return FeedSettings(**values)  # type: ignore[arg-type]


class FakeClock:
    """The source's wall clock, moved by the test: what is tested is the schedule, not this machine."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _collect_until(
    source: SimulatorSource, clock: FakeClock, advance_to: float, periods: int
) -> list[list]:
    """Start the source at clock 0, move the clock to ``advance_to`` once the first batch is out, and
    collect until ``periods`` distinct periods have come (or 10 s pass: then the assertion fails)."""
    stop = asyncio.Event()
    batches: list[list] = []

    def seen() -> int:
        return len({p.delivery_start for batch in batches for p in batch})

    async def consume() -> None:
        async for batch in source.batches(stop):
            batches.append(batch)

    task = asyncio.create_task(consume())
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while not batches:
                await asyncio.sleep(0.01)
            clock.now = advance_to
            while seen() < periods:
                await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    return batches


async def test_source_yields_the_current_period_at_once_then_follows_its_clock() -> None:
    clock = FakeClock()
    source = SimulatorSource(
        ["DE-LU", "FR"], speed=900.0, tick_seconds=0.01, seed=7, clock=clock, start="2025-06-02T10:00:00Z"
    )
    assert isinstance(SimulatorSource.from_settings(_settings()), PriceSource)
    # Before the clock moves at all, the current period is out; 1.2 s later at 900x, one more.
    batches = await _collect_until(source, clock, 1.2, periods=2)
    first = batches[0]
    assert [(p.zone, p.delivery_start) for p in first] == [
        ("DE-LU", datetime(2025, 6, 2, 10, tzinfo=UTC)),
        ("FR", datetime(2025, 6, 2, 10, tzinfo=UTC)),
    ]
    assert all(p.source == "simulator" and p.resolution is Resolution.PT15M for p in first)
    periods = sorted({p.delivery_start for batch in batches for p in batch})
    assert periods == [datetime(2025, 6, 2, 10, tzinfo=UTC), datetime(2025, 6, 2, 10, 15, tzinfo=UTC)]


async def test_source_prices_do_not_depend_on_speed_or_tick() -> None:
    def source(speed: float, tick: float, clock: FakeClock) -> SimulatorSource:
        return SimulatorSource(
            ["DE-LU", "FR"], speed=speed, tick_seconds=tick, seed=7, start="2025-06-02T10:00:00Z", clock=clock
        )

    slow_clock, fast_clock = FakeClock(), FakeClock()
    slow = await _collect_until(source(900.0, 0.01, slow_clock), slow_clock, 2.0, periods=3)
    fast = await _collect_until(source(90000.0, 0.02, fast_clock), fast_clock, 1.0, periods=101)
    slow_prices = {(p.zone, p.delivery_start): p.eur_mwh for b in slow for p in b}
    fast_prices = {(p.zone, p.delivery_start): p.eur_mwh for b in fast for p in b}
    assert len(slow_prices) == 2 * 3 and len(fast_prices) == 2 * 101
    assert all(fast_prices[key] == value for key, value in slow_prices.items())
    model = PriceModel(["DE-LU", "FR"], "2025-06-02T10:00:00Z", "PT15M", seed=7)
    expected = model.take(len(fast_prices) // 2)
    assert [fast_prices[("DE-LU", k)] for k in sorted(k for z, k in fast_prices if z == "DE-LU")] == list(
        expected[:, 0]
    )


async def test_source_stops_promptly_even_with_a_long_tick() -> None:
    source = SimulatorSource.from_settings(_settings(simulator_tick_seconds=3600.0))
    stop = asyncio.Event()
    batches = []

    async def consume() -> None:
        async for batch in source.batches(stop):
            batches.append(batch)
            stop.set()

    # An hour-long tick: finishing at all shows the source wakes on stop, not on its next tick.
    await asyncio.wait_for(consume(), timeout=60)
    assert len(batches) == 1


# --- resuming after a restart ---------------------------------------------------------------------


def _source(clock: FakeClock, **kwargs: object) -> SimulatorSource:
    values: dict[str, object] = {"speed": 900.0, "seed": 7, "clock": clock, "wall": lambda: WALL}
    values.update(kwargs)
    return SimulatorSource(["DE-LU", "FR"], **values)  # type: ignore[arg-type]


WALL = datetime(2025, 6, 2, 10, tzinfo=UTC)


def _by_period(batch: list) -> dict:
    return {(p.zone, p.delivery_start): p.eur_mwh for p in batch}


async def test_a_resumed_simulator_continues_with_the_same_values_per_period() -> None:
    stop = asyncio.Event()
    clock = FakeClock()
    first_run = _source(clock, start=WALL)
    periods = first_run.batches(stop)
    await periods.__anext__()  # the first period at once
    clock.now += 10.0  # 10 periods of 15 simulated minutes at 900x
    acknowledged = await periods.__anext__()
    checkpoint = orjson.loads(orjson.dumps(first_run.checkpoint(acknowledged)))  # as stored in the KV
    clock.now += 10.0
    unacknowledged = _by_period(await periods.__anext__())  # published, then the feed was killed
    await periods.aclose()

    # The restarted feed has no start setting (it would be "now"): the checkpoint decides.
    clock2 = FakeClock()
    second_run = _source(clock2, start=datetime(2025, 6, 3, 7, tzinfo=UTC))
    second_run.resume(checkpoint)
    resumed = second_run.batches(stop)
    first = await resumed.__anext__()
    assert {p.delivery_start for p in first} == {WALL + timedelta(minutes=15 * 11)}
    clock2.now += 10.0
    again = _by_period(first) | _by_period(await resumed.__anext__())
    await resumed.aclose()
    overlap = set(again) & set(unacknowledged)
    assert len(overlap) == 20  # periods 11..20 of both zones were simulated twice ...
    assert {k: again[k] for k in overlap} == unacknowledged  # ... with identical values


async def test_a_changed_simulation_never_goes_back_before_the_checkpoint() -> None:
    checkpoint = {
        "anchor": "2025-06-02T10:00:00+00:00",
        "next": "2025-06-02T12:00:00+00:00",
        "seed": 1,  # another seed: another simulation
        "volatility": 1.0,
        "resolution": "PT15M",
        "market": "day_ahead",
    }
    source = _source(FakeClock(), start=WALL)
    source.resume(checkpoint)
    first = await source.batches(asyncio.Event()).__anext__()
    assert {p.delivery_start for p in first} == {datetime(2025, 6, 2, 12, tzinfo=UTC)}


async def test_simulated_time_stays_within_the_plausible_lead() -> None:
    stop = asyncio.Event()
    clock = FakeClock()
    window = TimeWindow(max_lead=timedelta(hours=1))
    source = _source(clock, start=WALL, window=window, tick_seconds=0.01)
    periods = source.batches(stop)
    await periods.__anext__()
    clock.now += 1000.0  # far more than the lead allows
    batch = await periods.__anext__()
    assert max(p.delivery_start for p in batch) == WALL + timedelta(hours=1)
    stop.set()
    assert [b async for b in periods] == []
