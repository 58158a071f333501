"""HTTP transport to the ENTSO-E Transparency Platform API: throttled, retried, token never logged.

The API allows about 400 requests a minute per token and bans a token for 10 minutes beyond that,
so every request (retries included) waits its turn in a client-side throttle that spaces requests
evenly below the configured rate. 429 and 5xx answers and network errors are retried with
exponential backoff (honouring Retry-After); other errors are permanent and raised at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx
from pydantic import SecretStr

from inthegrid.errors import SourceError
from inthegrid.sources.entsoe.parse import parse_xml, raise_for_acknowledgement

log = logging.getLogger(__name__)

MAX_REQUESTS_PER_MINUTE = 399
_TOKEN_PATTERN = re.compile(r"(securityToken=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """A URL or message with the security token replaced, safe to log."""
    return _TOKEN_PATTERN.sub(r"\1***", text)


class _RedactTokenFilter(logging.Filter):
    """httpx logs every request URL at INFO; this keeps the token out of those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "securityToken" in message or "securitytoken" in message.lower():
            record.msg, record.args = redact(message), ()
        return True


_FILTER = _RedactTokenFilter()


def _install_redaction() -> None:
    # Added when a client is built, not at import: importing never touches logging configuration.
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class Throttle:
    """Spaces calls at least ``60 / requests_per_minute`` seconds apart (a steady, burst-free rate)."""

    def __init__(
        self,
        requests_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 1 <= requests_per_minute <= MAX_REQUESTS_PER_MINUTE:
            raise SourceError(
                f"requests per minute must be 1..{MAX_REQUESTS_PER_MINUTE}, got {requests_per_minute}"
            )
        self.interval = 60.0 / requests_per_minute
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = self._clock()
            if self._next > now:
                await self._sleep(self._next - now)
                now = self._clock()
            self._next = max(now, self._next) + self.interval


class EntsoeClient:
    def __init__(
        self,
        base_url: str,
        token: SecretStr,
        *,
        requests_per_minute: int = 300,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        timeout_seconds: float = 30.0,
    ) -> None:
        if not token.get_secret_value():
            raise SourceError("an ENTSO-E security token is required (INTHEGRID_ENTSOE_TOKEN)")
        self.base_url = base_url
        self._token = token
        self.throttle = Throttle(requests_per_minute)
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.requests = 0  # requests actually sent, retries included
        _install_redaction()
        self._http = httpx.AsyncClient(timeout=timeout_seconds, headers={"User-Agent": "inthegrid"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch_day_ahead(self, eic: str, start: datetime, end: datetime) -> bytes:
        """The raw A44 document of one zone for [start, end) UTC."""
        params = {
            "documentType": "A44",
            "in_Domain": eic,
            "out_Domain": eic,
            "periodStart": start.strftime("%Y%m%d%H%M"),
            "periodEnd": end.strftime("%Y%m%d%H%M"),
        }
        return await self.get(params)

    async def get(self, params: dict[str, str]) -> bytes:
        """GET the API with these parameters; retried on 429/5xx/network errors, else raised."""
        query = {**params, "securityToken": self._token.get_secret_value()}
        safe_url = redact(str(httpx.URL(self.base_url, params=query)))
        for attempt in range(1, self.max_attempts + 1):
            await self.throttle.wait()
            self.requests += 1
            try:
                response = await self._http.get(self.base_url, params=query)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}"
                retry_after = None
            else:
                if response.status_code == 200:
                    log.debug("GET %s -> 200 (%d bytes)", safe_url, len(response.content))
                    return response.content
                if response.status_code != 429 and response.status_code < 500:
                    self._raise_permanent(response, safe_url)
                reason = f"HTTP {response.status_code}"
                retry_after = _retry_after(response)
            if attempt == self.max_attempts:
                break
            delay = min(self.max_backoff_seconds, retry_after or self.backoff_seconds * 2 ** (attempt - 1))
            log.warning(
                "GET %s failed (%s); retry %d/%d in %.1fs",
                safe_url,
                reason,
                attempt,
                self.max_attempts - 1,
                delay,
            )
            await asyncio.sleep(delay)
        raise SourceError(f"ENTSO-E request failed after {self.max_attempts} attempts ({reason}): {safe_url}")

    @staticmethod
    def _raise_permanent(response: httpx.Response, safe_url: str) -> None:
        # The API explains refusals (and "no matching data") in an Acknowledgement document.
        if b"Acknowledgement_MarketDocument" in response.content[:2000]:
            raise_for_acknowledgement(parse_xml(response.content))
        if response.status_code in (401, 403):
            status = response.status_code
            raise SourceError(f"ENTSO-E rejected the security token (HTTP {status}): {safe_url}")
        raise SourceError(f"ENTSO-E answered HTTP {response.status_code}: {safe_url}")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
