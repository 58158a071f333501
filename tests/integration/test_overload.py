"""Overload: prices arrive ten times faster than the calculator and recorder can take them.

The sustainable rate is measured first (a burst, timed until both consumers acknowledged all of it);
then the test publishes at ten times that rate. The backlog must wait in JetStream, not in the services:
their memory (RSS) stays bounded, nothing crashes, the backlog shows in
``inthegrid_consumer_pending_messages`` above the InTheGridConsumerLagGrowing threshold, and it drains.
The issue asks for a minute of overload; the drain takes about nine times as long as the overload, so
CI gets OVERLOAD_SECONDS (the test is named slow). Set INTHEGRID_OVERLOAD_SECONDS=60 for the full run.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import Price
from inthegrid.platform.bus import Bus, connect_bus, price_subject, publish_all
from inthegrid.platform.settings import CommonSettings
from tests.support.faults import (
    PRICES_STREAM,
    ZONES,
    Monitor,
    calculator_process,
    recorder_process,
    report,
    simulated_prices,
    verify_nothing_lost,
    wait_for,
)
from tests.support.processes import ServiceProcess

OVERLOAD_SECONDS = float(os.environ.get("INTHEGRID_OVERLOAD_SECONDS", "4"))
OVERLOAD_FACTOR = 10
WARMUP_PRICES = 3000
MAX_PRICES = 150_000
SLICE_SECONDS = 0.1
RULES_FILE = Path(__file__).parents[2] / "charts/inthegrid/files/prometheus/inthegrid.rules.yml"
# Memory the services may gain while the backlog is at its largest: a few batches in hand, never the backlog.
RSS_GROWTH_LIMIT_BYTES = 120 * 1024 * 1024


def _lag_alert_threshold() -> float:
    """The pending-messages threshold of the InTheGridConsumerLagGrowing alert, read from the rule itself."""
    text = RULES_FILE.read_text(encoding="utf-8")
    rule = text.split("alert: InTheGridConsumerLagGrowing", 1)[1]
    match = re.search(r"inthegrid_consumer_pending_messages\)\s*>\s*([0-9.]+)", rule)
    assert match, "InTheGridConsumerLagGrowing has no pending-messages threshold"
    return float(match.group(1))


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    # pydantic-settings fills the other fields from defaults and the environment; mypy cannot see that.
    b = await connect_bus(CommonSettings(nats_url=nats_url), "overload-test")  # type: ignore[call-arg,unused-ignore]
    yield b
    await b.close()


def _items(prices: list[Price]) -> list[tuple[str, bytes, str]]:
    return [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices]


class Sampler:
    """RSS and reported lag of the services, every half second, in a thread (urllib and psutil block)."""

    def __init__(self, procs: dict[str, ServiceProcess]) -> None:
        self.procs = procs
        self.rss: dict[str, list[int]] = {n: [] for n in procs}
        self.pending: dict[str, list[float]] = {n: [] for n in procs}
        self._stop = asyncio.Event()

    def _sample(self) -> None:
        for name, p in self.procs.items():
            assert p.process is not None
            self.rss[name].append(psutil.Process(p.process.pid).memory_info().rss)
            self.pending[name].append(p.metric_value("inthegrid_consumer_pending_messages"))

    async def run(self) -> None:
        while not self._stop.is_set():
            await asyncio.to_thread(self._sample)
            try:
                await asyncio.wait_for(self._stop.wait(), 0.5)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()


async def test_slow_overload_ten_times_the_sustainable_rate(
    nats_url: str, database_url: str, bus: Bus, tmp_path: Path
) -> None:
    procs = {
        "calculator": calculator_process(tmp_path, nats_url),
        "recorder": recorder_process(tmp_path, nats_url, database_url),
    }
    for p in procs.values():
        p.start(wait_ready=0)
    for p in procs.values():
        p.wait_ready(60)
    monitor = await Monitor.connect(nats_url)
    sampler = Sampler(procs)
    sampling = asyncio.create_task(sampler.run())
    try:
        # 1. The sustainable rate: a burst, timed until both consumers acknowledged all of it.
        # Encoded before the clock starts: the publisher shares two cores with everything it overloads.
        items = _items(simulated_prices(MAX_PRICES // len(ZONES)))
        started = time.monotonic()
        await publish_all(bus, items[:WARMUP_PRICES])
        await monitor.wait_caught_up(await monitor.targets(), 120, "the warm-up burst")
        sustainable = WARMUP_PRICES / (time.monotonic() - started)
        rate = OVERLOAD_FACTOR * sustainable
        baseline = {n: max(r[-3:]) for n, r in sampler.rss.items()}

        # 2. Overload: `rate` prices a second in slices of SLICE_SECONDS.
        sent, began = WARMUP_PRICES, time.monotonic()
        while (elapsed := time.monotonic() - began) < OVERLOAD_SECONDS:
            due = min(WARMUP_PRICES + int(rate * (elapsed + SLICE_SECONDS)), len(items))
            due -= (due - WARMUP_PRICES) % len(ZONES)  # whole periods only
            if due > sent:
                await publish_all(bus, items[sent:due])
                sent = due
            await asyncio.sleep(max(0.0, began + elapsed + SLICE_SECONDS - time.monotonic()))
        achieved = (sent - WARMUP_PRICES) / (time.monotonic() - began)
        targets = await monitor.targets()
        backlog_at_end = await monitor.backlog(PRICES_STREAM, "calculator-proof-of-concept")

        # 3. The drain.
        drain_began = time.monotonic()
        await monitor.wait_caught_up(targets, 300, "the overload backlog to drain")
        drained = time.monotonic() - drain_began

        async def lag_reported_zero() -> bool:
            return all(
                [
                    await asyncio.to_thread(p.metric_value, "inthegrid_consumer_pending_messages") == 0
                    for p in procs.values()
                ]
            )

        await wait_for(lag_reported_zero, 30, "inthegrid_consumer_pending_messages back to 0", every=0.5)
        sampler.stop()
        await sampling

        peak_pending = {n: max(v) for n, v in sampler.pending.items()}
        peak_rss = {n: max(v) for n, v in sampler.rss.items()}
        report(
            "overload",
            sustainable_per_s=round(sustainable),
            offered_per_s=round(achieved),
            factor=f"{achieved / sustainable:.1f}x",
            overload=OVERLOAD_SECONDS,
            drain=drained,
            backlog=backlog_at_end,
            **{f"peak_pending_{n}": int(v) for n, v in peak_pending.items()},
            **{f"rss_mb_{n}": f"{baseline[n] / 2**20:.0f}->{peak_rss[n] / 2**20:.0f}" for n in procs},
        )

        # On two shared cores the publisher cannot always reach the full tenfold (it competes with the
        # consumers it overloads), and how far it gets depends on the machine and its load: the report
        # line gives the factor reached. What must hold is that it was an overload (more offered than
        # the consumers take), which the backlog crossing the lag alert's threshold below confirms.
        assert achieved > sustainable, f"offered {achieved:.0f}/s, sustainable {sustainable:.0f}/s"
        for name, p in procs.items():
            assert p.process is not None and p.process.poll() is None, f"{name} died:\n{p.log_tail()}"
            growth = peak_rss[name] - baseline[name]
            assert growth < RSS_GROWTH_LIMIT_BYTES, f"{name} grew {growth / 2**20:.0f} MiB under overload"
        threshold = _lag_alert_threshold()
        assert max(peak_pending.values()) > threshold, (
            f"the backlog ({peak_pending}) never crossed the lag alert's threshold {threshold}"
        )
        verdict = await verify_nothing_lost(monitor, database_url, timeout=120)
        assert verdict.prices == sent
    finally:
        sampler.stop()
        sampling.cancel()
        await monitor.close()
        for p in procs.values():
            p.terminate()
