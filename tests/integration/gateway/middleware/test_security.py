"""The gateway process in deployed mode (API keys, rate limit and CORS set through the environment,
as the chart sets them) on real NATS and PostgreSQL, probed as an outsider would probe it.

Open by design, without a key: /health (liveness and readiness of the service), /metrics (scraped by
Prometheus inside the cluster; the NetworkPolicies limit who reaches it), the OpenAPI document and
its /docs page, and /dashboard (the dashboard calls the API server-side with the first key).
Everything under /api/ needs a key.

The unit tests (tests/unit/gateway/middleware/test_security.py) cover the same rules on the app in-process;
these check the real server: headers as uvicorn sends them, the key-less SSE endpoints, preflight,
and clients told apart by their address behind a trusted proxy (X-Forwarded-For from 127.0.0.1, a
configured proxy here), while a gateway that trusts no proxy ignores a spoofed X-Forwarded-For.

Rate limits never depend on how fast this machine is: buckets hold a burst of requests and refill
one token a minute, so no token comes back while a test runs; refill itself is tested on an injected
clock in the unit tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inthegrid.platform.db import connect_pool, run_migrations
from tests.integration.conftest import create_database
from tests.integration.gateway.rest.test_api_fuzz import drop_database
from tests.support.processes import ServiceProcess
from tests.support.servers import EmbeddedNats, EmbeddedPostgres, free_port

# One key per purpose: the rate limit counts per key, so tests must not share one.
KEYS = {
    purpose: f"key-{purpose}-{i}7f3c9b1e2d"
    for i, purpose in enumerate(("header", "bearer", "limited", "other", "guesser", "cors"))
}
ORIGIN = "https://grid.example"
BURST = 30  # requests a client may make at once; then one more per minute (none during a test)
LOGIN_BURST = 3
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "referrer-policy": "strict-origin-when-cross-origin",
}
OPEN_PATHS = ("/health", "/metrics", "/openapi.json", "/docs")
API_PATHS = (
    "/api/zones",
    "/api/borders",
    "/api/prices/latest",
    "/api/prices/history/DE-LU",
    "/api/spreads/latest",
    "/api/spreads/opportunities",
    "/api/opportunities/history",
    "/api/stream/prices",
    "/api/stream/opportunities",
)
_addresses = (f"198.51.100.{i}" for i in itertools.count(1))


def new_client_address() -> dict[str, str]:
    """A client address of its own (the gateway trusts X-Forwarded-For from its local proxy), so
    each test has its own rate-limit bucket whatever the others did."""
    return {"X-Forwarded-For": next(_addresses)}


@contextlib.contextmanager
def _running_gateway(
    nats_server: EmbeddedNats, postgres: EmbeddedPostgres, log: Path, settings: dict[str, str]
) -> Iterator[str]:
    """A gateway process on a new migrated database with these INTHEGRID_* settings; its URL."""
    database_url = asyncio.run(_migrated_database(postgres))
    port = free_port()
    env = {
        "INTHEGRID_NATS_URL": nats_server.url,
        "INTHEGRID_DATABASE_URL": database_url,
        "INTHEGRID_HTTP_HOST": "127.0.0.1",
        "INTHEGRID_HTTP_PORT": str(port),
        **settings,
    }
    process = ServiceProcess(["gateway"], env, log)
    process.start(wait_ready=90)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        asyncio.run(drop_database(postgres, database_url))


@pytest.fixture(scope="module")
def gateway_url(
    nats_server: EmbeddedNats, postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log: Path = tmp_path_factory.mktemp("gateway-security") / "gateway.log"
    settings = {
        "INTHEGRID_API_KEYS": ",".join(KEYS.values()),
        "INTHEGRID_CORS_ORIGINS": f'["{ORIGIN}"]',  # JSON, as the chart renders it
        "INTHEGRID_RATE_LIMIT_PER_MINUTE": "1",
        "INTHEGRID_RATE_LIMIT_BURST": str(BURST),
        "INTHEGRID_LOGIN_ATTEMPTS_PER_MINUTE": "1",
        "INTHEGRID_LOGIN_ATTEMPTS_BURST": str(LOGIN_BURST),
        "INTHEGRID_TRUSTED_PROXIES": "127.0.0.1",
    }
    with _running_gateway(nats_server, postgres, log, settings) as url:
        yield url
    text = log.read_text(errors="replace")
    for key in KEYS.values():
        assert key not in text, "an API key was written to the gateway log"


async def _migrated_database(postgres: EmbeddedPostgres) -> str:
    """A new database with the schema the recorder would have created."""
    url = await create_database(postgres)
    pool = await connect_pool(url, timeout=30)
    try:
        await run_migrations(pool)
    finally:
        await pool.close()
    return url


def get(url: str, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> httpx.Response:
    """One request; event streams are cut after the headers (their body never ends)."""
    with httpx.Client(base_url=url, timeout=10) as client, client.stream(method, path, headers=headers) as r:
        if not r.headers.get("content-type", "").startswith("text/event-stream"):
            r.read()
        return r


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name, dict(response.headers))
    assert "frame-ancestors" in response.headers.get("content-security-policy", "")
    assert "server" not in response.headers, "the server names itself"


def test_every_api_path_needs_a_key_and_says_how(gateway_url: str) -> None:
    address = new_client_address()
    for path in API_PATHS:
        for headers in (
            {},
            {"X-API-Key": "wrong"},
            {"Authorization": f"Basic {KEYS['header']}"},  # right key, wrong scheme
            {"X-API-Key": KEYS["header"][:-1]},  # a prefix of a real key
        ):
            response = get(gateway_url, path, {**address, **headers})
            assert response.status_code == 401, (path, headers, response.status_code)
            assert response.headers["www-authenticate"] == 'Bearer realm="inthegrid"'
            assert response.json() == {"detail": "missing or invalid API key (X-API-Key or Bearer token)"}
            assert_security_headers(response)
        # A key in the query string is not accepted: URLs end up in logs and browser history.
        response = get(gateway_url, f"{path}?api_key={KEYS['header']}", address)
        assert response.status_code == 401
        address = new_client_address()  # keep under the per-address limit


def test_both_key_forms_open_every_api_path(gateway_url: str) -> None:
    for path, (header, value) in zip(
        API_PATHS,
        itertools.cycle([("X-API-Key", KEYS["header"]), ("Authorization", f"Bearer {KEYS['bearer']}")]),
    ):
        response = get(gateway_url, path, {**new_client_address(), header: value})
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert_security_headers(response)


def test_open_paths_are_exactly_the_documented_ones(gateway_url: str) -> None:
    for path in OPEN_PATHS:
        response = get(gateway_url, path, new_client_address())
        assert response.status_code == 200, path
        assert_security_headers(response)
    dashboard = get(gateway_url, "/dashboard/", new_client_address())
    assert dashboard.status_code in (200, 404)  # 404 when the dashboard module is not installed
    assert_security_headers(dashboard)


def test_rate_limit_answers_429_with_retry_after(gateway_url: str) -> None:
    address = new_client_address()
    key = {"X-API-Key": KEYS["limited"], **address}
    codes = [get(gateway_url, "/api/zones", key).status_code for _ in range(BURST + 1)]
    assert codes[:BURST] == [200] * BURST and codes[-1] == 429, codes
    limited = get(gateway_url, "/api/zones", key)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json() == {"detail": "rate limit exceeded; retry later"}
    assert_security_headers(limited)
    # Another key is another client; health is never limited.
    assert get(gateway_url, "/api/zones", {"X-API-Key": KEYS["other"], **address}).status_code == 200
    assert get(gateway_url, "/health", address).status_code == 200


def test_guessing_keys_is_rate_limited_too(gateway_url: str) -> None:
    address = new_client_address()
    codes = [
        get(gateway_url, "/api/zones", {"X-API-Key": f"guess-{i}", **address}).status_code
        for i in range(BURST + 5)
    ]
    assert set(codes[:BURST]) == {401} and set(codes[BURST:]) == {429}, codes
    # The right key from that same address is its own client, not punished for the guesses.
    assert get(gateway_url, "/api/zones", {"X-API-Key": KEYS["guesser"], **address}).status_code == 200


def test_cors_allows_only_the_configured_origin_and_never_a_wildcard(gateway_url: str) -> None:
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-API-Key",
    }
    allowed = get(gateway_url, "/api/zones", {**preflight, **new_client_address()}, method="OPTIONS")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["access-control-allow-methods"] == "GET"
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    assert_security_headers(allowed)

    for origin in ("https://evil.example", "null", f"{ORIGIN}.evil.example", "http://grid.example"):
        denied = get(gateway_url, "/api/zones", {**preflight, "Origin": origin}, method="OPTIONS")
        assert denied.status_code == 400, origin
        assert "access-control-allow-origin" not in denied.headers, origin
        simple = get(
            gateway_url, "/api/zones", {"Origin": origin, "X-API-Key": KEYS["cors"], **new_client_address()}
        )
        assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers, origin
    # Only GET is offered, whatever the preflight asks for.
    post = get(
        gateway_url, "/api/zones", {**preflight, "Access-Control-Request-Method": "DELETE"}, method="OPTIONS"
    )
    assert post.status_code == 400
    real = get(
        gateway_url, "/api/zones", {"Origin": ORIGIN, "X-API-Key": KEYS["cors"], **new_client_address()}
    )
    assert real.headers["access-control-allow-origin"] == ORIGIN
    assert real.headers.get("vary", "").lower().count("origin") == 1


def test_dashboard_asks_for_an_api_key_when_keys_are_configured(gateway_url: str) -> None:
    # The dashboard reads the API server-side with a key of its own, so it must not be an open
    # window onto the data: its login takes an API key as the password.
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        config = client.get("/dashboard/config", headers=new_client_address())
        assert config.status_code == 401, config.text[:200]
        wrong = client.post(
            "/dashboard/login",
            data={"username": "analyst", "password": "not-a-key"},
            headers=new_client_address(),
        )
        assert wrong.status_code in (400, 401), wrong.text[:200]
        right = client.post(
            "/dashboard/login",
            data={"username": "analyst", "password": KEYS["header"]},
            headers=new_client_address(),
        )
        assert right.status_code == 200, right.text[:200]
        assert client.get("/dashboard/config", headers=new_client_address()).status_code == 200


def test_guessing_keys_at_the_dashboard_login_is_rate_limited(gateway_url: str) -> None:
    address = new_client_address()
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        codes = [
            client.post(
                "/dashboard/login", data={"username": "x", "password": f"guess-{i}"}, headers=address
            ).status_code
            for i in range(LOGIN_BURST + 2)
        ]
    if codes[0] == 404:
        pytest.skip("the dashboard module is not installed")
    assert set(codes[:LOGIN_BURST]) <= {400, 401} and set(codes[LOGIN_BURST:]) == {429}, codes


@pytest.fixture(scope="module")
def untrusting_gateway_url(
    nats_server: EmbeddedNats, postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The same gateway with the default: no trusted proxy."""
    log: Path = tmp_path_factory.mktemp("gateway-untrusting") / "gateway.log"
    settings = {
        "INTHEGRID_API_KEYS": KEYS["other"],
        "INTHEGRID_DASHBOARD": "false",
        "INTHEGRID_RATE_LIMIT_PER_MINUTE": "1",
        "INTHEGRID_RATE_LIMIT_BURST": "5",
    }
    with _running_gateway(nats_server, postgres, log, settings) as url:
        yield url


def test_a_spoofed_forwarded_for_does_not_escape_the_limit(untrusting_gateway_url: str) -> None:
    codes = [
        get(
            untrusting_gateway_url, "/api/zones", {"X-API-Key": f"guess-{i}", **new_client_address()}
        ).status_code
        for i in range(7)
    ]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429], codes
