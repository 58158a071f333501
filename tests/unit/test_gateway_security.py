"""API keys, rate limit, security headers and CORS of the gateway."""

from __future__ import annotations

from inthegrid.gateway.security import TokenBuckets
from tests.unit.test_gateway_api import make_client


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
    client, _ = make_client(rate_limit_per_minute=3)
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
