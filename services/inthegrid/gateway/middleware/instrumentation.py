"""Request metrics as a plain ASGI middleware: count and time every request by route template."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inthegrid.gateway.metrics import REQUEST_SECONDS, REQUESTS


def route_label(scope: Scope, status: int) -> str:
    """The matched route's template (bounded label values); other requests get a fixed name."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    if status in (401, 429):
        return "rejected"
    return "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            route = route_label(scope, status)
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)
