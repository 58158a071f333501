"""What the gateway runs besides HTTP: the bus connection feeding the live state, the database pool,
and the housekeeping that keeps both healthy. Routes reach it through ``deps.get_services``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import nats.errors

from inthegrid.gateway.live.feeder import LiveFeeder
from inthegrid.gateway.live.state import LiveState
from inthegrid.gateway.storage.database import Database
from inthegrid.gateway.stream.channels import Channel
from inthegrid.platform.bus import Bus, BusError, connect_bus
from inthegrid.platform.metrics import HealthState
from inthegrid.platform.settings import GatewaySettings

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 5.0


class GatewayServices:
    def __init__(self, settings: GatewaySettings, health: HealthState | None = None) -> None:
        self.settings = settings
        self.health = health or HealthState()
        window = timedelta(minutes=settings.gateway_opportunity_window_minutes)
        self.window = window
        self.live = LiveState(settings.gateway_recent_periods, window)
        self.prices = Channel(
            "prices", settings.sse_ring_size, settings.sse_queue_size, settings.sse_hopeless_seconds
        )
        self.opportunities = Channel(
            "opportunities", settings.sse_ring_size, settings.sse_queue_size, settings.sse_hopeless_seconds
        )
        self.feeder = LiveFeeder(
            self.live, self.prices, self.opportunities, settings.price_limits, settings.time_window
        )
        self.db = Database(settings.database_url.get_secret_value(), settings.database_pool_size)
        self.bus: Bus | None = None
        self.live_ready = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def nats_ok(self) -> bool:
        return self.bus is not None and self.bus.nc.is_connected and self.live_ready

    async def start(self) -> None:
        self.health.set("nats", False)
        self.health.set("database", False)
        self._tasks = [
            asyncio.create_task(self._connect_bus(), name="gateway-bus"),
            asyncio.create_task(self.db.connect(self._stop), name="gateway-db"),
            asyncio.create_task(self._housekeeping(), name="gateway-housekeeping"),
        ]

    def close_streams(self) -> None:
        """End every SSE response (before the HTTP server waits for its connections to finish)."""
        self.prices.close_all()
        self.opportunities.close_all()

    async def stop(self) -> None:
        self._stop.set()
        self.close_streams()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.feeder.stop()
        if self.bus is not None:
            await self.bus.close()
            self.bus = None
        await self.db.close()

    async def _connect_bus(self) -> None:
        while not self._stop.is_set():
            try:
                self.bus = await connect_bus(self.settings, "gateway", stop=self._stop)
                await self.feeder.start(self.bus, self.window)
                self.live_ready = True
                self.health.set("nats", True)
                return
            except asyncio.CancelledError:
                raise
            except (BusError, nats.errors.Error, OSError, TimeoutError) as exc:
                # Follow again from scratch: the live state is rebuilt from the streams.
                log.error("cannot follow the bus (%s); retrying", exc)
                await self.feeder.stop()
                if self.bus is not None:
                    await self.bus.close()
                    self.bus = None
                await asyncio.sleep(2.0)

    async def _housekeeping(self) -> None:
        while not self._stop.is_set():
            self.live.forget_opportunities_before(datetime.now(UTC) - self.window)
            self.health.set("nats", self.nats_ok)
            self.health.set("database", await self.db.ping())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), HOUSEKEEPING_SECONDS)
