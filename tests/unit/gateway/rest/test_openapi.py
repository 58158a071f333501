"""The generated OpenAPI document: explicit stable operationIds, the API-key security scheme as the
gateway reads keys, 401 and 429 on every protected operation (as the gateway answers them), and
`format: date-time` on every timestamp."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from inthegrid.gateway.middleware.security import PROTECTED_PREFIX, presented_key
from inthegrid.gateway.rest.openapi import OPERATION_IDS
from tests.unit.gateway.rest.test_routers import make_client

TIME_FIELD = re.compile(r"(timestamp|_at|_start|_end|^day)$")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    client, _ = make_client()
    return client.get("/openapi.json").json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def test_every_operation_has_its_explicit_operation_id(document: dict[str, Any]) -> None:
    found = {(method, path): op["operationId"] for method, path, op in operations(document)}
    assert found == OPERATION_IDS  # every operation is in the table and every entry is served
    assert len(set(found.values())) == len(found)
    assert all(re.fullmatch(r"(get|list|stream)[A-Z][A-Za-z]+", v) for v in found.values())


def test_operation_ids_are_pinned() -> None:
    # Renaming one breaks generated clients: change it only on purpose, here too.
    assert OPERATION_IDS[("GET", "/api/prices/latest")] == "listLatestPrices"
    assert OPERATION_IDS[("GET", "/api/spreads/opportunities")] == "listOpenOpportunities"
    assert OPERATION_IDS[("GET", "/api/prices/history/{market}")] == "listPriceHistory"


def test_the_security_schemes_are_how_the_gateway_reads_keys(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    header = schemes["ApiKeyHeader"]
    assert (header["type"], header["in"]) == ("apiKey", "header")
    assert presented_key({header["name"].lower().encode(): b"k1"}) == "k1"
    assert (schemes["BearerToken"]["type"], schemes["BearerToken"]["scheme"]) == ("http", "bearer")
    assert presented_key({b"authorization": b"Bearer k2"}) == "k2"


def test_protected_operations_declare_the_keys_and_their_401_and_429(document: dict[str, Any]) -> None:
    protected = 0
    for _, path, op in operations(document):
        if not path.startswith(PROTECTED_PREFIX):
            assert "security" not in op and "401" not in op["responses"], path
            continue
        protected += 1
        assert op["security"] == [{"ApiKeyHeader": []}, {"BearerToken": []}], path
        for status in ("401", "429"):
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorPublic"}, (path, status)
        assert "Retry-After" in op["responses"]["429"]["headers"]
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
    assert protected >= 20
    assert "ErrorPublic" in document["components"]["schemas"]


def test_the_documented_401_and_429_are_what_the_gateway_answers() -> None:
    client, _ = make_client(api_keys=["secret-key"], rate_limit_per_minute=1, rate_limit_burst=1)
    with client:
        refused = client.get("/api/zones")
        assert refused.status_code == 401 and "www-authenticate" in refused.headers
        assert set(refused.json()) == {"detail"}
        assert client.get("/api/zones", headers={"X-API-Key": "secret-key"}).status_code in (200, 429)
        limited = client.get("/api/zones", headers={"Authorization": "Bearer secret-key"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert set(limited.json()) == {"detail"}


def _time_properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in schema.get("properties", {}).items():
        if TIME_FIELD.search(name):
            yield name, prop


def test_every_timestamp_is_a_date_time(document: dict[str, Any]) -> None:
    checked = 0
    for model, schema in document["components"]["schemas"].items():
        for name, prop in _time_properties(schema):
            branches = prop.get("anyOf", [prop])
            strings = [b for b in branches if b.get("type") == "string"]
            assert strings and all(b.get("format") == "date-time" for b in strings), (model, name, prop)
            checked += 1
    assert checked >= 15  # the walk reached the price, opportunity, spread and history shapes
    for _, _, op in operations(document):
        for param in op.get("parameters", []):
            if param["name"] in ("from", "to"):
                assert {"type": "string", "format": "date-time"} in param["schema"]["anyOf"]
