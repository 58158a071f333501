"""Fixtures for tests against real servers.

- ``nats_server`` / ``postgres`` (session): one nats-server and one PostgreSQL for the whole run.
- ``nats_url`` (function): the session server with every stream and KV bucket deleted first, so
  durable consumers and stored messages never leak between tests.
- ``database_url`` (function): a new, empty database on the session server.
- Storage: the plain PostgreSQL server by default; tests or modules marked ``both_storages`` run
  twice, on plain PostgreSQL and on TimescaleDB (``timescaledb_postgres``, built by
  scripts/build-timescaledb.sh). Without that build the TimescaleDB variant skips with the reason,
  and fails under CI=true.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import nats
import pytest

from tests.support import servers
from tests.support.gateway import Gateway, running_gateway
from tests.support.nats_cluster import NatsCluster, nats_cluster
from tests.support.servers import EmbeddedNats, EmbeddedPostgres

INTEGRATION_DIR = __file__.rsplit("/", 1)[0]


STORAGES = ("postgresql", "timescaledb")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_storages: run on plain PostgreSQL and on TimescaleDB")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "storage" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_storages"):
        metafunc.parametrize("storage", STORAGES, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything in this folder needs real servers: mark it so `-m "not integration"` skips it.
    for item in items:
        if str(item.path).startswith(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def _binaries() -> None:
    reason = servers.missing_binaries()
    if reason:
        pytest.skip(f"server binaries unavailable: {reason}")


@pytest.fixture(scope="session")
def nats_server(_binaries: None) -> Iterator[EmbeddedNats]:
    with servers.nats_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres(_binaries: None) -> Iterator[EmbeddedPostgres]:
    with servers.postgres_server(storage="postgresql") as server:
        yield server


@pytest.fixture(scope="session")
def timescaledb_postgres(_binaries: None) -> Iterator[EmbeddedPostgres]:
    reason = servers.timescaledb_unavailable()
    if reason:
        message = f"TimescaleDB unavailable: {reason}"
        if servers.timescaledb_required():
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    with servers.postgres_server(storage="timescaledb") as server:
        yield server


@pytest.fixture
def storage(request: pytest.FixtureRequest) -> str:
    """The storage a test runs on: its parameter when marked both_storages, else plain PostgreSQL."""
    return str(getattr(request, "param", "postgresql"))


@pytest.fixture
def storage_server(request: pytest.FixtureRequest, storage: str) -> EmbeddedPostgres:
    name = "timescaledb_postgres" if storage == "timescaledb" else "postgres"
    server: EmbeddedPostgres = request.getfixturevalue(name)
    return server


async def reset_jetstream(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name:
                await js.delete_stream(info.config.name)
    finally:
        await nc.close()


@pytest.fixture
async def nats_url(nats_server: EmbeddedNats) -> str:
    await reset_jetstream(nats_server.url)
    return nats_server.url


async def create_database(server: EmbeddedPostgres) -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server.url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.url(name)


@pytest.fixture
async def database_url(storage_server: EmbeddedPostgres) -> AsyncIterator[str]:
    url = await create_database(storage_server)
    yield url
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(storage_server.url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def gateway(request: pytest.FixtureRequest, nats_url: str, database_url: str) -> AsyncIterator[Gateway]:
    """The gateway on uvicorn against this test's NATS and database; indirect parameters are
    GatewaySettings overrides (``@pytest.mark.parametrize("gateway", [{...}], indirect=True)``)."""
    async with running_gateway(nats_url, database_url, getattr(request, "param", None)) as running:
        yield running


@pytest.fixture
def cluster() -> Iterator[NatsCluster]:
    """Three nats-servers on loopback forming one JetStream cluster (streams and buckets R3)."""
    reason = servers.missing_binaries()
    if reason:
        pytest.skip(f"server binaries unavailable: {reason}")
    with nats_cluster(3) as c:
        yield c
