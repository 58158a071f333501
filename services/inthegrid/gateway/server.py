"""Serving the app: ``run_gateway`` (the service entry point) runs uvicorn in the service's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn

from inthegrid.gateway.app import create_app
from inthegrid.gateway.services import GatewayServices
from inthegrid.platform.metrics import HealthState
from inthegrid.platform.settings import GatewaySettings

log = logging.getLogger(__name__)


class GatewayServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The service runtime owns SIGTERM/SIGINT: they set ``stop``, which shuts this server down.
        yield


def build_server(
    settings: GatewaySettings, services: GatewayServices, *, mount_dashboard: bool = True
) -> GatewayServer:
    app = create_app(settings, services=services, mount_dashboard=mount_dashboard)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        # X-Forwarded-For decides the client's address (and so its rate-limit bucket) only when the
        # connection comes from a proxy the operator named; uvicorn would otherwise trust 127.0.0.1.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or "",
        server_header=False,
        timeout_keep_alive=30,
        backlog=2048,
    )
    return GatewayServer(config)


async def run_gateway(
    settings: GatewaySettings, stop: asyncio.Event, health: HealthState, *, mount_dashboard: bool = True
) -> None:
    """Serve until ``stop`` is set, then end SSE streams and shut down gracefully."""
    services = GatewayServices(settings, health)
    server = build_server(settings, services, mount_dashboard=mount_dashboard)
    serving = asyncio.create_task(server.serve(), name="gateway-http")
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    services.close_streams()
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    stopping.cancel()
    if not server.started:
        log.error("gateway could not serve on %s:%d", settings.http_host, settings.http_port)
