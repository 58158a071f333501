"""Optional alert webhook: POST each opened opportunity, without ever slowing detection.

Alerts go through a bounded queue to one background sender; when the webhook is slow or down,
the oldest alerts are dropped (and counted) rather than holding back the calculator.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from prometheus_client import Counter

from inthegrid.domain.codec import encode_event
from inthegrid.domain.opportunities import EventKind, OpportunityEvent

log = logging.getLogger(__name__)

ALERTS = Counter("inthegrid_calculator_alerts_total", "Webhook alerts by outcome", ["outcome"])


class WebhookAlerter:
    def __init__(self, url: str, queue_size: int = 1000) -> None:
        self._url = url
        self._queue: asyncio.Queue[OpportunityEvent] = asyncio.Queue(queue_size)
        self._client = httpx.AsyncClient(timeout=5.0)
        self._task = asyncio.create_task(self._send_forever())

    def notify(self, event: OpportunityEvent) -> None:
        if event.kind is not EventKind.OPENED:
            return
        if self._queue.full():
            self._queue.get_nowait()
            ALERTS.labels("dropped").inc()
        self._queue.put_nowait(event)

    async def _send_forever(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                response = await self._client.post(
                    self._url, content=encode_event(event), headers={"Content-Type": "application/json"}
                )
                ALERTS.labels("sent" if response.is_success else "failed").inc()
            except httpx.HTTPError as exc:
                ALERTS.labels("failed").inc()
                # The URL may hold a token: log only the error class.
                log.warning("alert webhook failed: %s", type(exc).__name__)

    async def close(self) -> None:
        self._task.cancel()
        await self._client.aclose()
