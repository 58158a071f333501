"""The whole pipeline (simulator feed -> calculator -> recorder) as real processes, and the checks the
fault and overload tests share: what the feed must have published, what PostgreSQL must hold, how far
each durable consumer got, and how long recovery took.

The feed is the simulator with a fixed start and seed, so what it publishes for its first N periods is
known in advance (``simulated_prices``); a feed that restarts publishes the same prices again with the
same message ids, which JetStream must drop.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import asyncpg
import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.batch_codec import decode_prices
from inthegrid.domain.prices import Price, Resolution, make_price
from inthegrid.domain.rules import PROOF_OF_CONCEPT_ZONES, proof_of_concept_rule
from inthegrid.platform.bus import OPPORTUNITIES_STREAM, PRICES_STREAM
from inthegrid.sources.simulator_model import PriceModel
from tests.support.polling import wait_until_async
from tests.support.processes import ServiceProcess

RULE = "proof-of-concept"
FEED = "faults"
SEED = 7
SIM_START = datetime(2026, 1, 5, tzinfo=UTC)
ZONES = list(PROOF_OF_CONCEPT_ZONES)
RESOLUTION = Resolution.PT15M
# 18000 simulated seconds per second = 20 quarter-hours a second = 100 prices a second for 5 zones:
# enough to be "mid-stream" at any moment, little enough for two cores running everything.
DEFAULT_SPEED = 18_000.0

CALCULATOR_DURABLE = "calculator-proof-of-concept"
RECORDER_PRICES = "recorder-prices"
RECORDER_EVENTS = "recorder-opportunities"

T = TypeVar("T")


def feed_process(
    tmp: Path, nats_url: str, speed: float = DEFAULT_SPEED, env: dict[str, str] | None = None
) -> ServiceProcess:
    return ServiceProcess(
        ["feed"],
        {
            "INTHEGRID_NATS_URL": nats_url,
            "INTHEGRID_FEED_NAME": FEED,
            "INTHEGRID_FEED_SOURCE": "simulator",
            "INTHEGRID_FEED_ZONES": ",".join(ZONES),
            "INTHEGRID_FEED_RESOLUTION": RESOLUTION.iso,
            "INTHEGRID_SIMULATOR_START": SIM_START.isoformat(),
            "INTHEGRID_SIMULATOR_SEED": str(SEED),
            "INTHEGRID_SIMULATOR_SPEED": str(speed),
            "INTHEGRID_SIMULATOR_TICK_SECONDS": "0.1",
            **(env or {}),
        },
        tmp / "feed.log",
    )


def calculator_process(tmp: Path, nats_url: str, env: dict[str, str] | None = None) -> ServiceProcess:
    return ServiceProcess(
        ["calculator"],
        {"INTHEGRID_NATS_URL": nats_url, "INTHEGRID_RULE_NAME": RULE, **(env or {})},
        tmp / "calculator.log",
    )


def recorder_process(
    tmp: Path, nats_url: str, database_url: str, env: dict[str, str] | None = None
) -> ServiceProcess:
    return ServiceProcess(
        ["recorder"],
        {"INTHEGRID_NATS_URL": nats_url, "INTHEGRID_DATABASE_URL": database_url, **(env or {})},
        tmp / "recorder.log",
    )


@dataclass
class Pipeline:
    """feed, calculator and recorder; started consumers first so nothing waits on a missing consumer."""

    procs: dict[str, ServiceProcess]
    order: tuple[str, ...] = ("calculator", "recorder", "feed")

    @classmethod
    def build(cls, tmp: Path, nats_url: str, database_url: str, speed: float = DEFAULT_SPEED) -> Pipeline:
        return cls(
            {
                "feed": feed_process(tmp, nats_url, speed),
                "calculator": calculator_process(tmp, nats_url),
                "recorder": recorder_process(tmp, nats_url, database_url),
            }
        )

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.procs[name]

    def start(self, wait_ready: float = 60.0) -> Pipeline:
        """Start all at once (imports take seconds each on a busy machine), then wait for each to be ready."""
        for name in self.order:
            self.procs[name].start(wait_ready=0)
        if wait_ready:
            for name in self.order:
                self.procs[name].wait_ready(wait_ready)
        return self

    def alive(self) -> dict[str, bool]:
        return {n: p.process is not None and p.process.poll() is None for n, p in self.procs.items()}

    def stop_feed(self) -> None:
        """SIGTERM the feed: it finishes the batch in hand, so the stream ends on a whole period."""
        code = self.procs["feed"].terminate()
        assert code == 0, f"feed exited with {code}:\n{self.procs['feed'].log_tail()}"

    def terminate(self) -> dict[str, int]:
        return {name: p.terminate() for name, p in self.procs.items()}

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.log_tail()}" for n, p in self.procs.items())


def readyz(port: int) -> int | None:
    """HTTP status of a service's /readyz, None when nobody answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


# What a restarting server answers meanwhile: "not yet", not a failure.
TRANSIENT = (OSError, asyncpg.PostgresError, nats.errors.Error, TimeoutError)


async def wait_for(predicate: Callable[[], Awaitable[T]], timeout: float, what: str, every: float = 0.1) -> T:
    """The one polling helper, counting a restarting server's errors as "not yet"."""
    return await wait_until_async(predicate, timeout, what, every=every, retry_on=TRANSIENT)


def simulated_prices(periods: int) -> list[Price]:
    """What the fault feed publishes for its first ``periods`` periods (same model, seed and start)."""
    values = PriceModel(ZONES, SIM_START, RESOLUTION, SEED).take(periods)
    return [
        make_price(zone, SIM_START + k * RESOLUTION.delta, value, resolution=RESOLUTION, source=FEED)
        for k, row in enumerate(values.tolist())
        for zone, value in zip(ZONES, row, strict=True)
    ]


class Monitor:
    """A test's own NATS connection: stream ends, consumer ack floors, stored messages."""

    def __init__(self, nc: nats.NATS) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=5)

    @classmethod
    async def connect(cls, url: str) -> Monitor:
        nc = await nats.connect(
            url, allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.2, connect_timeout=2
        )
        return cls(nc)

    async def close(self) -> None:
        await self.nc.close()

    async def last_seq(self, stream: str) -> int:
        try:
            return int((await self.js.stream_info(stream)).state.last_seq)
        except NotFoundError:
            return 0

    async def ack_floor(self, stream: str, durable: str) -> int:
        """Stream sequence up to which the durable consumer acknowledged everything."""
        info = await self.js.consumer_info(stream, durable)
        return int(info.ack_floor.stream_seq if info.ack_floor else 0)

    async def backlog(self, stream: str, durable: str) -> int:
        info = await self.js.consumer_info(stream, durable)
        return int((info.num_pending or 0) + (info.num_ack_pending or 0))

    async def targets(self) -> dict[tuple[str, str], int]:
        """For every durable consumer of the pipeline, the stream end it must reach to have caught up."""
        prices, events = await self.last_seq(PRICES_STREAM), await self.last_seq(OPPORTUNITIES_STREAM)
        return {
            (PRICES_STREAM, CALCULATOR_DURABLE): prices,
            (PRICES_STREAM, RECORDER_PRICES): prices,
            (OPPORTUNITIES_STREAM, RECORDER_EVENTS): events,
        }

    async def wait_caught_up(self, targets: dict[tuple[str, str], int], timeout: float, what: str) -> None:
        floors: dict[tuple[str, str], int] = {}

        async def reached() -> bool:
            for stream, durable in targets:
                floors[(stream, durable)] = await self.ack_floor(stream, durable)
            return all(floors[key] >= seq for key, seq in targets.items())

        try:
            await wait_for(reached, timeout, f"{what}: every consumer past {targets}", every=0.05)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; acknowledged up to {floors}") from None

    async def stored(self, stream: str) -> list[bytes]:
        """Every message the stream holds, in stream order (an ephemeral consumer that acks nothing)."""
        info = await self.js.stream_info(stream)
        if info.state.messages == 0:
            return []
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0
        )
        sub = await self.js.pull_subscribe("", stream=stream, config=config)
        out: list[bytes] = []
        try:
            while len(out) < info.state.messages:
                msgs = await sub.fetch(1000, timeout=5)
                out.extend(m.data for m in msgs)
        finally:
            await sub.unsubscribe()
        return out


@dataclass
class Verdict:
    prices: int
    periods: int
    opportunities: int
    events: int
    notes: list[str] = field(default_factory=list)


def expected_opportunities(prices: list[Price]) -> dict[tuple[str, str, datetime], tuple[str, float]]:
    """The final state of every opportunity, from the pure calculator fed the prices in stream order."""
    state = CalculatorState(proof_of_concept_rule())
    final: dict[tuple[str, str, datetime], tuple[str, float]] = {}
    for price in prices:
        for event in state.on_price(price, SIM_START):
            key = (event.pair[0], event.pair[1], event.delivery_start)
            final[key] = (
                ("closed", 0.0)
                if event.value is None or event.kind.value == "closed"
                else ("open", event.value.net_eur_mwh)
            )
    return final


async def verify_nothing_lost(monitor: Monitor, database_url: str, timeout: float = 60.0) -> Verdict:
    """After the feed stopped: the stream holds each simulated price once, PostgreSQL holds each price and
    each opportunity once, and every opportunity is in the state the pure calculator predicts."""
    # Batch messages (contract v2): a re-published batch is dropped by its id, but a feed killed after
    # JetStream acknowledged a batch and before it saved its checkpoint re-produces those periods in
    # other batches (the simulator's catch-up), which the stream stores again: the same prices, once
    # more. Consumers absorb them (natural keys, unchanged state), so the stream is checked for each
    # price in stream order, first copies only, and PostgreSQL below for each price exactly once.
    seen: set[str] = set()
    stored = []
    for data in await monitor.stored(PRICES_STREAM):
        for _, price in decode_prices(data).prices:
            if price.message_id not in seen:
                seen.add(price.message_id)
                stored.append(price)
    ids = [p.message_id for p in stored]
    assert stored and len(stored) % len(ZONES) == 0, f"{len(stored)} prices is not whole periods"
    periods = len(stored) // len(ZONES)
    expected = simulated_prices(periods)
    assert set(ids) == {p.message_id for p in expected}, (
        "the stream is not the feed's first periods, once each"
    )

    conn = await asyncpg.connect(database_url)
    try:
        want_prices = {(p.zone, p.delivery_start): round(p.eur_mwh, 2) for p in expected}

        async def prices_stored() -> bool:
            return int(await conn.fetchval("SELECT count(*) FROM prices WHERE source = $1", FEED)) >= len(
                expected
            )

        await wait_for(prices_stored, timeout, f"{len(expected)} prices in PostgreSQL", every=0.2)
        rows = await conn.fetch(
            "SELECT zone, delivery_start, price_eur_mwh FROM prices WHERE source = $1", FEED
        )
        got_prices = {(r["zone"], r["delivery_start"]): float(r["price_eur_mwh"]) for r in rows}
        assert len(rows) == len(expected) and got_prices == want_prices, "prices in PostgreSQL differ"

        want = expected_opportunities(stored)

        async def opportunities_settled() -> dict[tuple[str, str, datetime], tuple[str, float]] | None:
            rows = await conn.fetch(
                "SELECT pair_a, pair_b, delivery_start, status, net_eur_mwh FROM opportunities"
                " WHERE rule = $1",
                RULE,
            )
            got = {
                (r["pair_a"], r["pair_b"], r["delivery_start"]): (
                    r["status"],
                    float(r["net_eur_mwh"]) if r["status"] == "open" else 0.0,
                )
                for r in rows
            }
            if got == want:
                return got
            missing = [k for k in want if k not in got]
            wrong = [(k, got[k], want[k]) for k in want if k in got and got[k] != want[k]]
            extra = [k for k in got if k not in want]
            diff.update(
                missing=len(missing),
                wrong=len(wrong),
                extra=len(extra),
                examples=(missing[:3], wrong[:3], extra[:3]),
            )
            return None

        diff: dict[str, object] = {}

        try:
            await wait_for(
                opportunities_settled, timeout, f"{len(want)} opportunities in their final state", every=0.2
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; difference: {diff}") from None
        duplicated = await conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM opportunity_events WHERE rule = $1"
            " GROUP BY pair_a, pair_b, delivery_start, revision HAVING count(*) > 1) d",
            RULE,
        )
        assert duplicated == 0, f"{duplicated} opportunity events stored twice"
        gaps = await conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM opportunity_events WHERE rule = $1"
            " GROUP BY pair_a, pair_b, delivery_start HAVING max(revision) <> count(*)) g",
            RULE,
        )
        assert gaps == 0, f"{gaps} opportunities miss a revision"
        events = int(await conn.fetchval("SELECT count(*) FROM opportunity_events WHERE rule = $1", RULE))
    finally:
        await conn.close()
    return Verdict(len(stored), periods, len(want), events)


def report(name: str, **figures: float | str) -> str:
    """One line per measurement, printed (pytest -s shows it) and kept for bench/RESULTS.md."""
    line = f"RECOVERY {name}: " + ", ".join(
        f"{k}={v:.2f}s" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    print(line, flush=True)
    return line
