"""Key-value buckets on a real 3-node JetStream cluster follow INTHEGRID_STREAM_REPLICAS.

A bucket left at R1 by an older install is raised to R3 by its owner (the recorder's ensure_buckets),
not by the others (they warn); a new one is created R3 by whoever comes first; and an R3 bucket keeps
its keys when the server leading it is killed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NATS

from inthegrid.platform.buckets import FEEDS, RULES, ensure_buckets, open_bucket, while_electing
from inthegrid.platform.bus import Bus, ensure_streams
from inthegrid.platform.settings import CommonSettings
from tests.support.faults import wait_for
from tests.support.nats_cluster import NatsCluster

REPLICAS = 3
ELECTION_SECONDS = 60  # a bound for a condition on a busy 2-core machine, not a speed requirement


@pytest.fixture
async def nc(cluster: NatsCluster) -> AsyncIterator[NATS]:
    client = await nats.connect(
        servers=cluster.urls, allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )

    async def meta_leader_elected() -> bool:
        await ensure_streams(Bus(client, client.jetstream(timeout=5)), CommonSettings(stream_replicas=1))
        return True

    await wait_for(meta_leader_elected, ELECTION_SECONDS, "JetStream on the new cluster", every=0.2)
    yield client
    await client.close()


def _bus(nc: NATS, replicas: int) -> Bus:
    return Bus(nc, nc.jetstream(timeout=10), stream_replicas=replicas)


async def _replicas(bus: Bus, stream: str) -> tuple[int, int]:
    """(configured replicas, servers that hold a copy) of a bucket's stream."""
    info = await bus.js.stream_info(stream)
    followers = len(info.cluster.replicas or []) if info.cluster else 0
    return int(info.config.num_replicas or 1), 1 + followers


async def test_an_r1_bucket_is_raised_by_its_owner_only_and_then_survives_its_leader(
    cluster: NatsCluster, nc: NATS, caplog: pytest.LogCaptureFixture
) -> None:
    old = await open_bucket(_bus(nc, 1), RULES)  # as an install from before the cluster made it
    # Just created, the bucket's stream may not yet answer on the server this client talks to (no
    # responders): the retry every writer of a bucket uses (rules_kv.announce_rule).
    await while_electing(lambda: old.put("proof-of-concept", b"rule"))
    assert await _replicas(_bus(nc, 1), RULES.stream) == (1, 1)

    with caplog.at_level(logging.WARNING, logger="inthegrid.platform.buckets"):
        await open_bucket(_bus(nc, REPLICAS), RULES)  # a calculator: not its bucket to change
    assert await _replicas(_bus(nc, 1), RULES.stream) == (1, 1)
    assert "INTHEGRID_RULES has 1 replica(s), 3 configured" in caplog.text

    owner = _bus(nc, REPLICAS)
    await ensure_buckets(owner)  # the recorder's start: raises RULES, creates FEEDS at R3
    assert (await _replicas(owner, RULES.stream))[0] == REPLICAS
    assert await _replicas(owner, FEEDS.stream) == (REPLICAS, REPLICAS)

    async def copied_to_every_server() -> bool:
        info = await owner.js.stream_info(RULES.stream)
        peers = info.cluster.replicas or [] if info.cluster else []
        return len(peers) == REPLICAS - 1 and all(p.current for p in peers)

    await wait_for(copied_to_every_server, ELECTION_SECONDS, "the rules bucket on three servers", every=0.2)

    info = await owner.js.stream_info(RULES.stream)
    assert info.cluster is not None and info.cluster.leader
    cluster.member(info.cluster.leader).stop()  # the server leading the bucket dies

    async def still_readable() -> bool:
        kv = await owner.js.key_value(RULES.name)
        return (await kv.get("proof-of-concept")).value == b"rule"

    assert await wait_for(still_readable, ELECTION_SECONDS, "the rule read from a surviving server")
