"""The dashboard's only way to data: the gateway's public REST and SSE API, over HTTP.

The dashboard never imports the gateway's internals, so it shows exactly what an analyst's own
tool would see, and it runs unchanged against a gateway in another process or cluster.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from inthegrid.errors import InTheGridError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 5.0


class GatewayUnavailableError(InTheGridError, ConnectionError):
    """The gateway could not be reached or answered with an error; the message is shown to people."""


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None


class GatewayClient:
    """Async reads of the gateway API; every failure becomes one GatewayUnavailableError."""

    def __init__(
        self, base_url: str, *, api_key: str | None = None, timeout: float = REQUEST_TIMEOUT_SECONDS
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self._headers = headers
        self._timeout = timeout

    def with_timeout(self, timeout: float) -> GatewayClient:
        """The same gateway and key with another timeout, for slow answers such as forecasts."""
        return GatewayClient(self.base_url, api_key=self._headers.get("X-API-Key"), timeout=timeout)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            async with httpx.AsyncClient(timeout=self._timeout, headers=self._headers) as client:
                response = await client.get(self.url(path), params=clean)
        except httpx.HTTPError as exc:
            raise GatewayUnavailableError(
                f"Gateway unreachable at {self.base_url} ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 400:
            raise GatewayUnavailableError(
                f"Gateway at {self.base_url} answered {response.status_code} for {path}: {_detail(response)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise GatewayUnavailableError(f"Gateway at {self.base_url} sent non-JSON for {path}") from exc
        if not isinstance(body, dict):
            raise GatewayUnavailableError(f"Gateway at {self.base_url} sent an unexpected body for {path}")
        return body

    async def latest_prices(self) -> list[dict[str, Any]]:
        return list((await self.get_json("/api/prices/latest")).get("prices") or [])

    async def latest_spreads(self) -> list[dict[str, Any]]:
        return list((await self.get_json("/api/spreads/latest")).get("data") or [])

    async def open_opportunities(self) -> list[dict[str, Any]]:
        return list((await self.get_json("/api/spreads/opportunities")).get("opportunities") or [])

    async def zones(self) -> list[dict[str, Any]]:
        return list((await self.get_json("/api/zones")).get("data") or [])

    async def borders(self) -> list[dict[str, Any]]:
        return list((await self.get_json("/api/borders")).get("data") or [])

    async def border_capacities(self) -> list[dict[str, Any]]:
        return list((await self.get_json("/api/borders/capacity")).get("data") or [])

    async def price_history(
        self, zone: str, *, start: str | None = None, end: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        params = {"limit": limit, "from": start, "to": end}
        return list((await self.get_json(f"/api/prices/history/{zone}", params)).get("prices") or [])

    async def price_buckets(
        self,
        zone: str,
        *,
        bucket: str,
        start: str | None = None,
        end: str | None = None,
        limit: int = 100_000,
    ) -> list[dict[str, Any]]:
        """Mean price per UTC hour or day (continuous aggregates on TimescaleDB), as price-like items."""
        params = {"bucket": bucket, "limit": limit, "from": start, "to": end}
        buckets = (await self.get_json(f"/api/history/prices/{zone}", params)).get("buckets") or []
        return [{"delivery_start": b["bucket_start"], "price": b["avg_price"]} for b in buckets]

    async def opportunity_history(
        self,
        *,
        start: str | None = None,
        end: str | None = None,
        pair: str | None = None,
        rule: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        params = {"from": start, "to": end, "pair": pair, "rule": rule, "limit": limit}
        return list((await self.get_json("/api/opportunities/history", params)).get("data") or [])

    async def stream(self, path: str, *, last_event_id: str | None = None) -> AsyncIterator[ServerSentEvent]:
        """Server-Sent Events from ``path`` until the server closes the stream (no read timeout)."""
        headers = dict(self._headers, Accept="text/event-stream")
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(self._timeout, read=None)
        try:
            async with (
                httpx.AsyncClient(timeout=timeout, headers=headers) as client,
                client.stream("GET", self.url(path)) as response,
            ):
                if response.status_code >= 400:
                    raise GatewayUnavailableError(
                        f"Gateway at {self.base_url} answered {response.status_code} for {path}"
                    )
                async for event in parse_sse(response.aiter_lines()):
                    yield event
        except httpx.HTTPError as exc:
            raise GatewayUnavailableError(
                f"Gateway stream {path} at {self.base_url} failed ({type(exc).__name__})"
            ) from exc


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[ServerSentEvent]:
    """The events of a text/event-stream (WHATWG rules for the fields the gateway sends)."""
    event, event_id = "message", None
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield ServerSentEvent(event, "\n".join(data), event_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:200]
    return str(body)[:200]
