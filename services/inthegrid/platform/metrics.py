"""Prometheus metrics shared by every service, and the small HTTP server that exposes them.

Names follow ``inthegrid_<what>_<unit>`` with ``_total`` on counters; labels never carry unbounded
values (zones and rules are bounded by configuration).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

log = logging.getLogger(__name__)

# Latency buckets from 0.5 ms to 30 s: detection latency is milliseconds, the proof of concept's
# design took up to 20 s, so both ends must be visible.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

MESSAGES_REJECTED = Counter(
    "inthegrid_bus_messages_rejected_total",
    "Bus messages that could not be decoded; each is kept in the dead-letter stream",
    ["service", "stream"],
)
MESSAGES_CONSUMED = Counter(
    "inthegrid_bus_messages_consumed_total", "Bus messages processed and acknowledged", ["service", "stream"]
)
CONSUMER_PENDING = Gauge(
    "inthegrid_consumer_pending_messages",
    "Messages in the stream not yet delivered to this durable consumer (consumer lag)",
    ["service", "consumer"],
)
BUS_CONNECTED = Gauge("inthegrid_bus_connected", "1 while connected to NATS", ["service"])
SERVICE_INFO = Gauge("inthegrid_service_up", "1 while the service runs", ["service", "version"])


class HealthState:
    """What /healthz and /readyz report; services flip ``ready`` when their dependencies answer."""

    def __init__(self) -> None:
        self.live = True
        self.checks: dict[str, bool] = {}

    def set(self, name: str, ok: bool) -> None:
        self.checks[name] = ok

    @property
    def ready(self) -> bool:
        return bool(self.checks) and all(self.checks.values())


async def serve_metrics(
    host: str, port: int, health: HealthState, extra: Callable[[], None] | None = None
) -> asyncio.Server | None:
    """/metrics, /healthz and /readyz on a plain asyncio server (no framework needed for three paths)."""
    if port == 0:
        return None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else "/"
            path = path.split("?")[0]
            if path == "/metrics":
                if extra is not None:
                    extra()
                body, ctype, status = generate_latest(), CONTENT_TYPE_LATEST, "200 OK"
            elif path == "/healthz":
                ok = health.live
                body, ctype, status = (
                    (b"ok\n" if ok else b"dead\n"),
                    "text/plain",
                    ("200 OK" if ok else "503 Service Unavailable"),
                )
            elif path == "/readyz":
                ok = health.ready
                detail = ",".join(f"{k}={'ok' if v else 'down'}" for k, v in sorted(health.checks.items()))
                body, ctype = (detail + "\n").encode(), "text/plain"
                status = "200 OK" if ok else "503 Service Unavailable"
            else:
                body, ctype, status = b"not found\n", "text/plain", "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    log.info("metrics and health on http://%s:%d/metrics", host, port)
    return server
