"""A three-node JetStream cluster with replicated (R3) streams: SIGKILL of the stream leader mid-stream.

The simulator feed, the calculator and the recorder run as real processes against three nats-servers on
loopback (every member's URL in INTHEGRID_NATS_URL, INTHEGRID_STREAM_REPLICAS=3). When the PRICES
stream's leader is killed, the two survivors elect a new one and the services carry on through it;
``verify_nothing_lost`` then proves the stream holds each simulated price once and PostgreSQL each price
and each opportunity event once. The pause (kill -> a new leader stores the next price, and -> the
calculator acknowledges past the kill) is printed as a ``RECOVERY`` line (``pytest -s``) and recorded
in bench/RESULTS.md.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.platform.bus import (
    OPPORTUNITIES_STREAM,
    PRICE_SUBJECT_ROOT,
    PRICES_STREAM,
    Bus,
    ensure_streams,
    fetch_batch,
)
from inthegrid.platform.settings import CommonSettings
from tests.support.faults import (
    CALCULATOR_DURABLE,
    Monitor,
    Pipeline,
    calculator_process,
    feed_process,
    recorder_process,
    report,
    verify_nothing_lost,
    wait_for,
)
from tests.support.nats_cluster import NatsCluster

REPLICAS = 3
# Bounds for conditions, not speed requirements: two busy cores run three servers and three services.
ELECTION_SECONDS = 60
CATCH_UP_SECONDS = 240
# Prices stored before the kill (mid-stream: the calculator has work in hand) and after it.
PRICES_BEFORE, PRICES_AFTER = 400, 400


@pytest.fixture
async def monitor(cluster: NatsCluster) -> AsyncIterator[Monitor]:
    nc = await nats.connect(
        servers=cluster.urls,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        connect_timeout=2,
    )
    m = Monitor(nc)
    # The streams, replicated over the cluster, before any service starts: the first creation waits
    # for the cluster to elect its meta leader.
    settings = CommonSettings(stream_replicas=REPLICAS)

    async def created() -> bool:
        await ensure_streams(Bus(nc, m.js), settings)
        return True

    await wait_for(created, ELECTION_SECONDS, "R3 streams on the new cluster", every=0.2)
    yield m
    await m.close()


def clustered_pipeline(tmp: Path, cluster: NatsCluster, database_url: str) -> Pipeline:
    env = {"INTHEGRID_STREAM_REPLICAS": str(REPLICAS)}
    return Pipeline(
        {
            "feed": feed_process(tmp, cluster.url, env=env),
            "calculator": calculator_process(tmp, cluster.url, env=env),
            "recorder": recorder_process(tmp, cluster.url, database_url, env=env),
        }
    )


async def _leader(monitor: Monitor, stream: str) -> str | None:
    info = await monitor.js.stream_info(stream)
    return info.cluster.leader if info.cluster else None


async def test_sigkill_of_the_stream_leader_loses_and_duplicates_nothing(
    cluster: NatsCluster, monitor: Monitor, database_url: str, tmp_path: Path
) -> None:
    for stream in (PRICES_STREAM, OPPORTUNITIES_STREAM):
        info = await monitor.js.stream_info(stream)
        assert info.config.num_replicas == REPLICAS, f"{stream} is not replicated"
        assert info.cluster is not None and len(info.cluster.replicas or []) == REPLICAS - 1
    pipe = clustered_pipeline(tmp_path, cluster, database_url).start()
    try:
        # The consumers the services created are replicated with their stream (they inherit R3).
        consumer = await monitor.js.consumer_info(PRICES_STREAM, CALCULATOR_DURABLE)
        assert consumer.cluster is not None and len(consumer.cluster.replicas or []) == REPLICAS - 1

        async def mid_stream() -> bool:
            return await monitor.ack_floor(PRICES_STREAM, CALCULATOR_DURABLE) >= PRICES_BEFORE

        await wait_for(mid_stream, CATCH_UP_SECONDS, f"the calculator past {PRICES_BEFORE} prices")
        old_leader = await _leader(monitor, PRICES_STREAM)
        assert old_leader is not None
        at_kill = await monitor.last_seq(PRICES_STREAM)
        killed = time.monotonic()
        cluster.member(old_leader).kill()

        async def new_leader_stores() -> bool:
            leader = await _leader(monitor, PRICES_STREAM)
            return leader not in (None, old_leader) and await monitor.last_seq(PRICES_STREAM) > at_kill

        await wait_for(new_leader_stores, ELECTION_SECONDS, "a new PRICES leader storing prices", every=0.02)
        stored_again = time.monotonic() - killed

        async def calculator_resumed() -> bool:
            return await monitor.ack_floor(PRICES_STREAM, CALCULATOR_DURABLE) > at_kill

        await wait_for(calculator_resumed, CATCH_UP_SECONDS, "the calculator past the kill", every=0.02)
        consumed_again = time.monotonic() - killed
        report(
            "sigkill nats stream leader (R3)",
            stored_again=stored_again,
            calculator_resumed=consumed_again,
            new_leader=str(await _leader(monitor, PRICES_STREAM)),
        )

        async def well_after() -> bool:
            return await monitor.last_seq(PRICES_STREAM) >= at_kill + PRICES_AFTER

        await wait_for(well_after, CATCH_UP_SECONDS, f"{PRICES_AFTER} prices after the kill")
        pipe.stop_feed()
        verdict = await verify_nothing_lost(monitor, database_url)
        assert all(pipe.alive()[n] for n in ("calculator", "recorder")), pipe.logs()
        assert verdict.opportunities > 0, "the run must produce opportunities to prove anything about them"
        # The stream itself holds each opportunity event once (PostgreSQL's natural keys would hide a
        # duplicate the calculator re-published after the failover).
        stored = await monitor.stored(OPPORTUNITIES_STREAM)
        ids = [e.message_id for data in stored for _, e in decode_events(data).events]
        assert ids and len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} events stored twice"
        print(f"verified: {verdict}", flush=True)
    finally:
        pipe.terminate()


async def test_a_fetch_from_a_deleted_consumer_still_fails(nats_url: str) -> None:
    """Riding out an election must not hide a consumer that is gone for good: the service has to
    fail (and be restarted, creating its consumer again) rather than wait for messages forever."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(timeout=5)
        await ensure_streams(Bus(nc, js), CommonSettings())
        sub = await js.pull_subscribe(f"{PRICE_SUBJECT_ROOT}.>", durable="gone", stream=PRICES_STREAM)
        assert await fetch_batch(sub, 1, 0.2) == ()
        await js.delete_consumer(PRICES_STREAM, "gone")
        with pytest.raises(nats.errors.Error):
            await fetch_batch(sub, 1, 0.5)
    finally:
        await nc.close()
