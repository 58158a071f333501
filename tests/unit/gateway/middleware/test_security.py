"""API keys, rate limit, security headers and CORS of the gateway."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from inthegrid.gateway.middleware.security import SecurityMiddleware, TokenBuckets
from inthegrid.gateway.server import build_server
from inthegrid.gateway.services import GatewayServices
from inthegrid.platform.settings import GatewaySettings
from tests.unit.gateway.rest.test_routers import make_client


def test_api_keys_guard_the_api_but_not_health_metrics_or_docs() -> None:
    client, _ = make_client(api_keys=["s3cret", "other"])
    with client:
        denied = client.get("/api/zones")
        assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
        assert denied.json()["detail"].startswith("missing or invalid API key")
        assert client.get("/api/zones", headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/api/zones", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/api/zones", headers={"Authorization": "Bearer other"}).status_code == 200
        assert client.get("/api/zones", headers={"Authorization": "Basic other"}).status_code == 401
        for path in ("/health", "/metrics", "/openapi.json"):
            assert client.get(path).status_code == 200, path


def test_rate_limit_answers_429_with_retry_after() -> None:
    # Three at once, then one a minute: no token can come back while the test runs, however slow.
    client, _ = make_client(rate_limit_per_minute=1, rate_limit_burst=3)
    with client:
        codes = [client.get("/api/zones").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/api/zones")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert client.get("/health").status_code == 200  # health is never limited


def test_token_bucket_refills_over_time() -> None:
    buckets = TokenBuckets(60)  # one token per second
    assert all(buckets.take("a", now=0.0) == 0 for _ in range(60))
    assert buckets.take("a", now=0.0) == 1.0
    assert buckets.take("a", now=1.0) == 0
    assert buckets.take("b", now=1.0) == 0  # clients are independent


def test_security_headers_on_every_response() -> None:
    client, _ = make_client()
    with client:
        for path in ("/health", "/api/zones", "/api/prices/history/XX"):
            headers = client.get(path).headers
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["x-frame-options"] == "SAMEORIGIN"
            assert "frame-ancestors" in headers["content-security-policy"]
            assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_cors_only_for_configured_origins() -> None:
    client, _ = make_client(cors_origins=["https://grid.example"])
    with client:
        allowed = client.get("/api/zones", headers={"Origin": "https://grid.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://grid.example"
        other = client.get("/api/zones", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    client, _ = make_client()
    with client:
        assert (
            "access-control-allow-origin"
            not in client.get("/api/zones", headers={"Origin": "https://x"}).headers
        )


# --- the limiter on an injected clock: refill and 429 without depending on machine speed ---------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_buckets_refill_on_their_clock_and_burst_is_separate_from_the_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(6, burst=3, clock=clock)  # 3 at once, then one every 10 s
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 10.0
    clock.now += 9.9
    assert 0 < buckets.take("a") < 0.2
    clock.now += 0.1
    assert buckets.take("a") == 0.0
    clock.now += 3600  # a long pause refills to the burst, never beyond
    assert [buckets.take("a") for _ in range(4)][-1] > 0


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("ok")(scope, receive, send)


def _guarded(clock: FakeClock, **options: object) -> TestClient:
    app = SecurityMiddleware(_ok, api_keys=["k1"], login_path="/dashboard/login", clock=clock, **options)  # type: ignore[arg-type]
    return TestClient(app)


def test_dashboard_login_attempts_are_limited_per_address_and_refill() -> None:
    clock = FakeClock()
    client = _guarded(clock, login_attempts_per_minute=2)  # two tries, then one every 30 s
    login = {"username": "x", "password": "guess"}
    assert [client.post("/dashboard/login", data=login).status_code for _ in range(3)] == [200, 200, 429]
    limited = client.post("/dashboard/login", data=login)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    assert client.get("/dashboard/").status_code == 200  # only the login is counted
    clock.now += 30
    assert client.post("/dashboard/login", data=login).status_code == 200
    assert client.post("/dashboard/login", data=login).status_code == 429


def test_api_rate_limit_refills_on_the_injected_clock() -> None:
    clock = FakeClock()
    client = _guarded(clock, rate_limit_per_minute=1, rate_limit_burst=2)
    key = {"X-API-Key": "k1"}
    assert [client.get("/api/zones", headers=key).status_code for _ in range(3)] == [200, 200, 429]
    # Wrong keys count against the address, separately from the key's own bucket.
    assert [client.get("/api/zones", headers={"X-API-Key": "no"}).status_code for _ in range(3)] == [
        401,
        401,
        429,
    ]
    clock.now += 60
    assert client.get("/api/zones", headers=key).status_code == 200


def test_without_keys_the_login_is_not_limited() -> None:
    app = SecurityMiddleware(_ok, login_path="/dashboard/login", login_attempts_per_minute=1)
    client = TestClient(app)
    assert {client.post("/dashboard/login").status_code for _ in range(5)} == {200}


def test_proxy_headers_are_trusted_only_from_configured_proxies() -> None:
    settings = GatewaySettings.model_validate({"dashboard": False})
    config = build_server(settings, GatewayServices(settings), mount_dashboard=False).config
    assert config.proxy_headers is False
    settings = GatewaySettings.model_validate({"dashboard": False, "trusted_proxies": "10.0.0.7, 10.0.0.8"})
    config = build_server(settings, GatewayServices(settings), mount_dashboard=False).config
    assert config.proxy_headers is True and config.forwarded_allow_ips == "10.0.0.7,10.0.0.8"
