"""API keys, per-client rate limit and security headers, as one plain ASGI middleware.

Plain ASGI (not BaseHTTPMiddleware) so streaming responses (SSE) pass through untouched and the
per-request cost stays a few dictionary look-ups. Only ``/api/`` is guarded: health, metrics, docs
and the dashboard stay open. Every route that checks a key is rate limited: ``/api/`` by the
per-client limit, and the dashboard's login (its password is an API key) by its own limit on
attempts per address, always on when keys are configured, so keys cannot be guessed there either.

The client's address is the connection's peer; uvicorn replaces it with X-Forwarded-For only for
connections from the configured trusted proxies (none by default), so a spoofed header can never
give a client a fresh bucket.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROTECTED_PREFIX = "/api/"
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
MAX_TRACKED_CLIENTS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One token bucket per client: ``burst`` tokens (default ``per_minute``), refilled continuously
    at ``per_minute``, on ``clock`` (monotonic seconds; tests pass their own)."""

    def __init__(self, per_minute: int, burst: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(burst or per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str, now: float | None = None) -> float:
        """0 when allowed; otherwise the seconds until a token is available."""
        now = self.clock() if now is None else now
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_CLIENTS:
                self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled completely carries no information; drop those first.
        full = [
            k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.capacity
        ]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The API key from ``X-API-Key`` or ``Authorization: Bearer``."""
    key = headers.get(b"x-api-key")
    if key:
        return key.decode("latin-1").strip()
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, credentials = auth.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_keys: Sequence[str] = (),
        rate_limit_per_minute: int = 0,
        rate_limit_burst: int = 0,
        login_path: str | None = None,
        login_attempts_per_minute: int = 10,
        login_attempts_burst: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.api_keys = [k.encode() for k in api_keys if k]
        self.buckets = (
            TokenBuckets(rate_limit_per_minute, rate_limit_burst, clock)
            if rate_limit_per_minute > 0
            else None
        )
        self.login_path = login_path
        self.logins = (
            TokenBuckets(login_attempts_per_minute, login_attempts_burst, clock)
            if self.api_keys and login_path and login_attempts_per_minute > 0
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            refusal = self._refusal(scope) if scope["path"].startswith(PROTECTED_PREFIX) else None
            if refusal is not None:
                await _refuse_websocket(scope, receive, send, *refusal)
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        if self.logins is not None and scope["method"] == "POST" and scope["path"] == self.login_path:
            wait = self.logins.take(f"ip:{_peer(scope)}")
            if wait > 0:
                await _too_many(send_with_headers, wait)
                return
        elif scope["path"].startswith(PROTECTED_PREFIX) and scope["method"] != "OPTIONS":
            refusal = self._refusal(scope)
            if refusal is not None:
                await _reject(send_with_headers, *refusal)
                return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        """Why a request to a protected path is refused (status, detail, headers), or None."""
        headers = dict(scope["headers"])
        key = presented_key(headers)
        authenticated = bool(self.api_keys) and self._known(key)
        if self.buckets is not None:
            # Checked before the key: a missing or wrong key counts against the caller's address,
            # so guessing keys (or flooding with them) is throttled like any other traffic.
            client = f"key:{key}" if authenticated else f"ip:{_peer(scope)}"
            wait = self.buckets.take(client)
            if wait > 0:
                retry = str(max(1, math.ceil(wait))).encode()
                return 429, "rate limit exceeded; retry later", [(b"retry-after", retry)]
        if self.api_keys and not authenticated:
            return (
                401,
                "missing or invalid API key (X-API-Key or Bearer token)",
                [(b"www-authenticate", b'Bearer realm="inthegrid"')],
            )
        return None

    def _known(self, key: str | None) -> bool:
        if key is None:
            return False
        presented = key.encode()
        # Compare against every key so the time taken does not reveal which one nearly matched.
        return any([hmac.compare_digest(presented, k) for k in self.api_keys])


def _peer(scope: Scope) -> str:
    """The client's address: the TCP peer, or X-Forwarded-For's when uvicorn trusts the peer as a proxy."""
    return str((scope.get("client") or ("?",))[0])


async def _too_many(send: Send, wait: float) -> None:
    retry = str(max(1, math.ceil(wait))).encode()
    await _reject(send, 429, "rate limit exceeded; retry later", [(b"retry-after", retry)])


async def _reject(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse_websocket(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]]
) -> None:
    """Refuse a WebSocket upgrade with the same status and body as an HTTP request would get, where
    the server supports it (uvicorn does); otherwise with a plain close (the client sees 403)."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = orjson.dumps({"detail": detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
