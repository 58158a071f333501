"""A JetStream cluster of real nats-server processes on loopback, for tests that kill a stream leader.

Each member is an ``EmbeddedNats`` (its own store directory, client port and name) that also listens on
a cluster port and routes to every other member; JetStream needs a cluster name and unique server
names, which the members have. Services reach the cluster through ``url``: every member's client URL,
comma-separated, as ``INTHEGRID_NATS_URL`` takes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.support.servers import EmbeddedNats, free_port, server_dir

CLUSTER_NAME = "inthegrid-test"


class ClusterMember(EmbeddedNats):
    """One nats-server of a cluster: the single-server command plus its cluster listener and routes."""

    def __init__(self, store_dir: Path, cluster_port: int, route_ports: Sequence[int]) -> None:
        super().__init__(store_dir)
        self.cluster_port = cluster_port
        self.route_ports = list(route_ports)

    @property
    def server_name(self) -> str:
        # EmbeddedNats names each server after its client port (-n); stream info names leaders by it.
        return f"inthegrid-{self.port}"

    def _command(self) -> list[str]:
        routes = ",".join(f"nats://{self.host}:{p}" for p in self.route_ports if p != self.cluster_port)
        return [
            *super()._command(),
            "--cluster_name",
            CLUSTER_NAME,
            "--cluster",
            f"nats://{self.host}:{self.cluster_port}",
            "--routes",
            routes,
        ]


class NatsCluster:
    def __init__(self, members: list[ClusterMember]) -> None:
        self.members = members

    @property
    def urls(self) -> list[str]:
        return [m.url for m in self.members]

    @property
    def url(self) -> str:
        return ",".join(self.urls)

    def member(self, server_name: str) -> ClusterMember:
        for m in self.members:
            if m.server_name == server_name:
                return m
        raise KeyError(f"no member named {server_name}; members: {[m.server_name for m in self.members]}")


@contextlib.contextmanager
def nats_cluster(size: int = 3) -> Iterator[NatsCluster]:
    """``size`` nats-servers forming one JetStream cluster, started in turn (each greets clients before
    its peers are up). JetStream answers only once a quorum has elected a meta leader, a few seconds
    later: callers wait for that themselves (e.g. by creating their streams until it succeeds)."""
    cluster_ports = [free_port() for _ in range(size)]
    with server_dir("nats-cluster") as base:
        members = [
            ClusterMember(base / f"node{i}" / "jetstream", cluster_ports[i], cluster_ports)
            for i in range(size)
        ]
        try:
            for m in members:
                m.start()
            yield NatsCluster(members)
        finally:
            for m in members:
                m.stop()
