"""The gateway as the integration tests run it, and what they publish to it and wait for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from inthegrid.domain.batch_codec import POSITIONS_PER_MESSAGE
from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import Price, make_price
from inthegrid.gateway.metrics import SSE_CLIENTS
from inthegrid.gateway.server import run_gateway
from inthegrid.platform.bus import Bus, connect_bus, price_subject, publish_all
from inthegrid.platform.db import connect_pool, run_migrations
from inthegrid.platform.metrics import HealthState
from inthegrid.platform.settings import GatewaySettings
from tests.support.polling import wait_until_async as wait_until
from tests.support.servers import free_port

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 1, 14, 12, tzinfo=UTC)
RING_SIZE = 20


def prices_for(zone: str, first: int, count: int) -> list[Price]:
    """Distinct 15-minute periods from T0 + first quarter hours (each price is its own message)."""
    return [
        make_price(
            zone,
            T0 + timedelta(minutes=15 * i),
            40.0 + (i % 50),
            resolution="PT15M",
            source="test",
            published_at=PUBLISHED,
        )
        for i in range(first, first + count)
    ]


async def publish_prices(bus: Bus, prices: list[Price]) -> None:
    await publish_all(
        bus, [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices]
    )


@dataclass
class Gateway:
    url: str
    settings: GatewaySettings
    bus: Bus
    http: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_gateway(
    nats_url: str, database_url: str, overrides: dict[str, object] | None = None
) -> AsyncIterator[Gateway]:
    """The gateway on uvicorn (no dashboard) on a free port, once its health check passes, with a
    bus connection and an HTTP client for the test; ``overrides`` are GatewaySettings values."""
    pool = await connect_pool(database_url, timeout=30)
    await run_migrations(pool)
    await pool.close()
    values = {
        "sse_queue_size": 64,
        "sse_ring_size": RING_SIZE,
        "sse_hopeless_seconds": 1.0,
        "sse_heartbeat_seconds": 1.0,
        **(overrides or {}),
    }
    settings = GatewaySettings.model_validate(
        {
            "nats_url": nats_url,
            "database_url": database_url,
            "http_port": free_port(),
            "metrics_port": 0,
            "dashboard": False,
            **values,
        }
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_gateway(settings, stop, HealthState(), mount_dashboard=False))
    bus = await connect_bus(settings, "gateway-test")
    url = f"http://127.0.0.1:{settings.http_port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:

        async def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return (await http.get("/health")).json()["checks"] == {"nats": True, "database": True}
            return False

        await wait_until(ready, what="gateway health")
        yield Gateway(url, settings, bus, http)
    stop.set()
    await asyncio.wait_for(task, 30)
    await bus.close()


def sse_clients() -> float:
    """Connected SSE clients of this process (the gauge other tests may have moved: compare deltas)."""
    return sum(SSE_CLIENTS.labels(s)._value.get() for s in ("prices", "opportunities"))


def clients_at_least(n: float) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return sse_clients() >= n

    return check


def single_price_ids(first_sequence: int, count: int) -> list[int]:
    """The SSE/WebSocket ids of ``count`` one-price messages from stream sequence ``first_sequence``
    on: a price's id is its position, stream sequence x POSITIONS_PER_MESSAGE + its index."""
    return [s * POSITIONS_PER_MESSAGE for s in range(first_sequence, first_sequence + count)]
