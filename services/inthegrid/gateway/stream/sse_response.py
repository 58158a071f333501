"""The ASGI response that streams one SSE client's queue: heartbeats, disconnect detection, and a
hard stop for clients that stopped reading (cancelling a send blocked on a full socket)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from inthegrid.gateway.stream.channels import Channel, SseClient

log = logging.getLogger(__name__)

RETRY_MILLISECONDS = 2000
Cleanup = Callable[[], Awaitable[None]]


class SseResponse(Response):
    media_type = "text/event-stream"

    def __init__(
        self, channel: Channel, client: SseClient, heartbeat_seconds: float, cleanup: Cleanup | None = None
    ) -> None:
        # No super().__init__: it would announce "content-length: 0" for an endless body.
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        self.channel = channel
        self.client = client
        self.heartbeat_seconds = heartbeat_seconds
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self.client
        finished_cleanly = False
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send(
                {
                    "type": "http.response.body",
                    "body": b"retry: %d\n\n" % RETRY_MILLISECONDS,
                    "more_body": True,
                }
            )
            async with anyio.create_task_group() as group:

                async def run(job: Callable[[], Awaitable[Any]]) -> None:
                    await job()
                    group.cancel_scope.cancel()

                group.start_soon(run, lambda: self._pump(send))
                group.start_soon(run, lambda: _wait_disconnect(receive))
                group.start_soon(run, client.closed.wait)
            finished_cleanly = client.close_reason != "hopeless"
        finally:
            self.channel.detach(client)
            if self.cleanup is not None:
                with contextlib.suppress(Exception):
                    await self.cleanup()
        if finished_cleanly:
            # A client that is still reading gets a proper end of stream (it reconnects with its last id).
            with contextlib.suppress(OSError), anyio.move_on_after(1):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send) -> None:
        client = self.client
        while True:
            event = await client.next_event(self.heartbeat_seconds)
            body = b": keep-alive\n\n" if event is None else event.frame
            await send({"type": "http.response.body", "body": body, "more_body": True})
            if client.gap and client.queue.empty() and not client.backlog:
                client.close("lagging")  # events were dropped: end so the client resumes from its last id
                return


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
