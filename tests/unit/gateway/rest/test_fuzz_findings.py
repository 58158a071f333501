"""What fuzzing the API (tests/integration/gateway/rest/test_api_fuzz.py) found, pinned as fast regressions."""

from __future__ import annotations

import pytest

from tests.unit.gateway.rest.test_routers import make_client


@pytest.mark.parametrize("value", ["1736900000", "1736900000000", "0", "-5", "1e3", " 42 "])
@pytest.mark.parametrize("path", ["/api/prices/history/DE", "/api/opportunities/history"])
@pytest.mark.parametrize("name", ["from", "to"])
def test_numeric_times_are_refused_not_guessed_as_seconds_or_milliseconds(
    path: str, name: str, value: str
) -> None:
    client, _ = make_client()
    with client:
        response = client.get(path, params={name: value})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", name] and "ISO-8601" in error["msg"]


def test_iso_times_still_pass_validation() -> None:
    client, _ = make_client()
    with client:
        for value in ("2026-01-15T00:00:00Z", "2026-01-15T01:00:00+01:00", "2026-01-15"):
            # No database here: 503 means validation let the value through to the query.
            assert client.get("/api/prices/history/DE", params={"from": value}).status_code == 503, value


def test_csv_answers_are_documented() -> None:
    client, _ = make_client()
    with client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/prices/history/{market}", "/api/opportunities/history"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/csv"}, path


def test_a_wrong_key_flood_is_throttled_by_address() -> None:
    client, _ = make_client(api_keys=["right"], rate_limit_per_minute=3)
    with client:
        codes = [client.get("/api/zones", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        assert client.get("/api/zones", headers={"X-API-Key": "right"}).status_code == 200
