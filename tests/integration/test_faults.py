"""Faults on real processes, mid-stream: SIGKILL and restart of nats-server, PostgreSQL and each service,
the database down for a while, NATS absent at start-up, SIGTERM under load.

Each test runs the simulator feed (fixed start and seed, 100 prices a second), the calculator and the
recorder, breaks one part, lets it come back, stops the feed and proves with ``verify_nothing_lost``:
the stream holds each simulated price once, PostgreSQL holds each price and each opportunity once, and
every opportunity is in the final state the pure calculator predicts. Recovery times are printed as
``RECOVERY ...`` lines (``pytest -s``): "ready" is restart -> /readyz 200, "caught_up" is restart ->
every durable consumer past what the stream held at the restart.

Slow tests (a database outage, NATS absent at start-up) carry ``slow`` in their names.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.support import servers
from tests.support.faults import (
    PRICES_STREAM,
    Monitor,
    Pipeline,
    calculator_process,
    readyz,
    report,
    verify_nothing_lost,
    wait_for,
)
from tests.support.servers import EmbeddedNats, EmbeddedPostgres

# Seconds the feed runs before and after a fault: long enough to be mid-stream, short for CI.
# A bound for a condition, not a speed requirement: generous, so a loaded 2-core machine passes too
# (catch-up is reported by `report`; a pipeline that never catches up still fails).
CATCH_UP_SECONDS = 240
BEFORE, AFTER = 3.0, 3.0
# The crashed part stays down this long before it is started again (a pod restart is about as quick).
DOWNTIME = 1.0


@pytest.fixture
async def monitor(nats_url: str) -> AsyncIterator[Monitor]:
    m = await Monitor.connect(nats_url)
    yield m
    await m.close()


@pytest.fixture
def own_nats() -> Iterator[EmbeddedNats]:
    """A nats-server of this test alone (file storage), since the test kills it."""
    with servers.nats_server() as server:
        yield server


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test alone, since the test kills it; durable settings, as in production."""
    with servers.postgres_server(fast=False) as server:
        yield server


async def _settle_and_verify(pipe: Pipeline, monitor: Monitor, database_url: str) -> None:
    await asyncio.sleep(AFTER)
    pipe.stop_feed()
    verdict = await verify_nothing_lost(monitor, database_url)
    assert all(pipe.alive()[n] for n in ("calculator", "recorder")), pipe.logs()
    assert verdict.opportunities > 0, "the run must produce opportunities to prove anything about them"
    print(f"verified: {verdict}", flush=True)


@pytest.mark.parametrize("service", ["feed", "calculator", "recorder"])
async def test_sigkill_of_a_service_mid_stream_loses_and_duplicates_nothing(
    service: str, nats_url: str, database_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    pipe = Pipeline.build(tmp_path, nats_url, database_url).start()
    try:
        await asyncio.sleep(BEFORE)
        pipe[service].kill()
        await asyncio.sleep(DOWNTIME)
        targets = await monitor.targets()
        restarted = time.monotonic()
        pipe[service].start()
        ready = time.monotonic() - restarted
        if service == "feed":
            # The restarted simulator publishes its history again (all dropped as duplicates), then new prices.
            before = targets[(PRICES_STREAM, "recorder-prices")]

            async def new_prices() -> bool:
                return await monitor.last_seq(PRICES_STREAM) > before

            await wait_for(new_prices, 60, "new prices from the restarted feed", every=0.05)
        await monitor.wait_caught_up(targets, CATCH_UP_SECONDS, f"catch-up after the {service} restart")
        report(f"sigkill {service}", ready=ready, caught_up=time.monotonic() - restarted)
        await _settle_and_verify(pipe, monitor, database_url)
    finally:
        pipe.terminate()


async def test_sigkill_of_nats_server_mid_stream(
    own_nats: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    pipe = Pipeline.build(tmp_path, own_nats.url, database_url).start()
    monitor = await Monitor.connect(own_nats.url)
    try:
        await asyncio.sleep(BEFORE)
        own_nats.kill()
        await asyncio.sleep(DOWNTIME)
        restarted = time.monotonic()
        own_nats.start()
        targets = await wait_for(monitor.targets, 30, "the streams after the restart")

        async def reconnected() -> bool:
            return all(
                [
                    await asyncio.to_thread(p.metric_value, "inthegrid_bus_connected") == 1
                    for p in pipe.procs.values()
                ]
            )

        await wait_for(reconnected, 60, "every service reconnected by itself")
        back = time.monotonic() - restarted
        await monitor.wait_caught_up(targets, CATCH_UP_SECONDS, "catch-up after the nats-server restart")
        report("sigkill nats-server", reconnected=back, caught_up=time.monotonic() - restarted)
        await _settle_and_verify(pipe, monitor, database_url)
    finally:
        pipe.terminate()
        await monitor.close()


async def test_sigkill_of_postgres_mid_stream(
    own_postgres: EmbeddedPostgres, nats_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    database_url = own_postgres.url()
    pipe = Pipeline.build(tmp_path, nats_url, database_url).start()
    try:
        await asyncio.sleep(BEFORE)
        own_postgres.kill()
        await asyncio.sleep(DOWNTIME)
        restarted = time.monotonic()
        own_postgres.start()  # crash recovery (WAL replay) happens here
        targets = await monitor.targets()
        await wait_for(_all_ready(pipe), 60, "every service ready again")
        ready = time.monotonic() - restarted
        await monitor.wait_caught_up(targets, CATCH_UP_SECONDS, "catch-up after the PostgreSQL restart")
        report("sigkill postgres", ready=ready, caught_up=time.monotonic() - restarted)
        await _settle_and_verify(pipe, monitor, database_url)
    finally:
        pipe.terminate()


def _all_ready(pipe: Pipeline) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return all(readyz(p.metrics_port) == 200 for p in pipe.procs.values())

    return check


async def test_calculator_down_longer_than_its_horizon_loses_nothing(
    nats_url: str, database_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    """A calculator that restarts far behind the stream (down for longer than its horizon of delivery
    periods, as after a long outage or during a replay) must still value every period it missed."""
    pipe = Pipeline.build(tmp_path, nats_url, database_url)
    # 6 hours = 24 quarter-hours; the feed publishes 20 a second, so 3 s down is 60 periods behind.
    pipe.procs["calculator"].env["INTHEGRID_CALCULATOR_HORIZON_HOURS"] = "6"
    pipe.start()
    try:
        await asyncio.sleep(BEFORE)
        pipe["calculator"].kill()
        await asyncio.sleep(3.0)
        targets = await monitor.targets()
        restarted = time.monotonic()
        pipe["calculator"].start()
        await monitor.wait_caught_up(targets, CATCH_UP_SECONDS, "catch-up after the long calculator outage")
        report("calculator down past its horizon", caught_up=time.monotonic() - restarted)
        await _settle_and_verify(pipe, monitor, database_url)
    finally:
        pipe.terminate()


# Longer than JetStream's ack_wait (30 s), so the recorder must keep the batch in hand alive with
# in_progress() and its backoff reaches its 5 s cap; the full minute would add only waiting to CI.
OUTAGE = 35.0
PRICES_PUBLISHED = "inthegrid_feed_prices_published_total"


async def test_slow_database_unavailable_while_prices_arrive(
    own_postgres: EmbeddedPostgres, nats_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    database_url = own_postgres.url()
    pipe = Pipeline.build(tmp_path, nats_url, database_url).start()
    recorder = pipe["recorder"]
    try:
        await asyncio.sleep(BEFORE)
        own_postgres.stop()
        down_at = time.monotonic()
        # Prices, not stream messages: the feed sends each zone's prices of a tick in one batch message.
        published_before = pipe["feed"].metric_value(PRICES_PUBLISHED)

        async def not_ready() -> bool:
            return readyz(recorder.metrics_port) == 503

        await wait_for(not_ready, 15, "the recorder's /readyz to say not ready")
        noticed = time.monotonic() - down_at
        await asyncio.sleep(OUTAGE - noticed)
        assert readyz(recorder.metrics_port) == 503, "readiness must stay down for the whole outage"
        assert pipe["feed"].metric_value(PRICES_PUBLISHED) > published_before + 500, "prices kept arriving"
        assert all(pipe.alive().values()), pipe.logs()
        targets = await monitor.targets()
        restarted = time.monotonic()
        own_postgres.start()

        async def ready() -> bool:
            return readyz(recorder.metrics_port) == 200

        await wait_for(ready, 30, "the recorder ready again")
        ready_s = time.monotonic() - restarted
        await monitor.wait_caught_up(targets, CATCH_UP_SECONDS, "the recorder storing the outage's backlog")
        report(
            f"database down {OUTAGE:.0f}s",
            noticed=noticed,
            ready=ready_s,
            caught_up=time.monotonic() - restarted,
            backlog=targets[(PRICES_STREAM, "recorder-prices")] - published_before,
        )
        await _settle_and_verify(pipe, monitor, database_url)
    finally:
        pipe.terminate()


async def test_slow_nats_unavailable_at_start_up(database_url: str, tmp_path: Path) -> None:
    """Services started before NATS exists wait with backoff, say not ready, and work once it appears."""
    with servers.server_dir("nats-late") as base:
        late = EmbeddedNats(base / "jetstream")
        pipe = Pipeline.build(tmp_path, late.url, database_url).start(wait_ready=0)
        try:

            async def all_answer() -> dict[str, int | None] | None:
                statuses = {n: readyz(p.metrics_port) for n, p in pipe.procs.items()}
                return statuses if None not in statuses.values() else None

            assert await wait_for(all_answer, 60, "the health servers") == dict.fromkeys(pipe.procs, 503)
            await asyncio.sleep(4.0)  # several retries, with backoff, while NATS stays away
            statuses = {n: readyz(p.metrics_port) for n, p in pipe.procs.items()}
            assert statuses == dict.fromkeys(pipe.procs, 503), statuses
            assert all(pipe.alive().values()), pipe.logs()
            for name, p in pipe.procs.items():
                assert "retrying in" in p.log_tail(20_000), f"{name} does not say it retries:\n{p.log_tail()}"
            # A stop request while waiting is honoured (the wait is ours, not a library's endless loop).
            waiting = calculator_process(tmp_path / "stopped-while-waiting", late.url).start(wait_ready=0)
            await asyncio.sleep(2.0)
            asked = time.monotonic()
            waiting.terminate(timeout=15)
            report("sigterm while waiting for NATS", exit=time.monotonic() - asked)
            appeared = time.monotonic()
            late.start()
            await wait_for(_all_ready(pipe), 30, "every service ready once NATS is there")
            report("nats absent at start-up", ready_after_nats=time.monotonic() - appeared)
            monitor = await Monitor.connect(late.url)
            try:
                await _settle_and_verify(pipe, monitor, database_url)
            finally:
                await monitor.close()
        finally:
            pipe.terminate()
            late.stop()


async def test_sigterm_under_load_loses_nothing(
    nats_url: str, database_url: str, monitor: Monitor, tmp_path: Path
) -> None:
    pipe = Pipeline.build(tmp_path, nats_url, database_url).start()
    try:
        await asyncio.sleep(BEFORE)
        for name in ("calculator", "recorder"):
            asked = time.monotonic()
            code = pipe[name].terminate(timeout=30)
            assert code == 0, f"{name} exited with {code}:\n{pipe[name].log_tail()}"
            report(f"sigterm {name} under load", shutdown=time.monotonic() - asked)
        targets = await monitor.targets()
        restarted = time.monotonic()
        pipe["calculator"].start(wait_ready=0)
        pipe["recorder"].start()
        await monitor.wait_caught_up(targets, CATCH_UP_SECONDS, "catch-up after the graceful restart")
        report("sigterm restart", caught_up=time.monotonic() - restarted)
        await _settle_and_verify(pipe, monitor, database_url)
        codes = pipe.terminate()
        assert codes == {"feed": 0, "calculator": 0, "recorder": 0}, codes
    finally:
        pipe.terminate()
