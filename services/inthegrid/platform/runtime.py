"""Running a service: logs, metrics server, signals, and a clean stop.

SIGTERM and SIGINT set a stop event; the service finishes what it holds (drain), then returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable

from inthegrid import __version__
from inthegrid.platform.logs import configure_logging
from inthegrid.platform.metrics import SERVICE_INFO, HealthState, serve_metrics
from inthegrid.platform.settings import CommonSettings

log = logging.getLogger(__name__)

ServiceMain = Callable[[asyncio.Event, HealthState], Awaitable[None]]


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not possible outside the main thread (tests run services in threads).
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_service(name: str, settings: CommonSettings, main: ServiceMain) -> None:
    configure_logging(name, settings.log_level, settings.log_format)
    stop = asyncio.Event()
    install_stop_signals(stop)
    health = HealthState()
    server = await serve_metrics(settings.metrics_host, settings.metrics_port, health)
    SERVICE_INFO.labels(name, __version__).set(1)
    log.info("starting %s", name)
    try:
        await main(stop, health)
    finally:
        health.live = False
        if server is not None:
            server.close()
        log.info("%s stopped", name)


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, settings, the app) out of the garbage collector's reach.

    They live as long as the process, yet each full collection walked them all: tens of milliseconds on
    a loaded machine, which was the calculator's detection latency tail (bench/RESULTS.md). Frozen, a
    full collection walks only what the service built since; the young collections are unchanged.
    """
    gc.collect()
    gc.freeze()


def run(name: str, settings: CommonSettings, main: ServiceMain) -> None:
    freeze_startup_heap()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass
    asyncio.run(run_service(name, settings, main))


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when stop was requested meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except TimeoutError:
        return False
