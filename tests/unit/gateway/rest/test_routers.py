"""Gateway REST API against a live state filled directly (no servers): shapes, validation, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from inthegrid.domain.opportunities import EventKind
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.domain.zones import ZONE_CODES
from inthegrid.gateway.app import create_app
from inthegrid.gateway.rest.schemas import (
    BordersPublic,
    HealthPublic,
    OpportunitiesPublic,
    PricesPublic,
    SpreadsPublic,
    ZonesPublic,
)
from inthegrid.gateway.services import GatewayServices
from inthegrid.platform.settings import GatewaySettings
from tests.unit.gateway.live.test_state import T0, event, price

# Nothing listens here: history endpoints must answer 503, never hang or crash.
UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:1/none"


def make_client(**settings: object) -> tuple[TestClient, GatewayServices]:
    config = GatewaySettings.model_validate({"database_url": UNREACHABLE_DB, "dashboard": False, **settings})
    services = GatewayServices(config)
    return TestClient(create_app(config, services=services, start_services=False)), services


@pytest.fixture
def api() -> Iterator[tuple[TestClient, GatewayServices]]:
    client, services = make_client()
    live = services.live
    live.set_rule("proof-of-concept", proof_of_concept_rule())
    for zone, eur in (("DE", 60.0), ("FR", 80.0), ("NL", 70.0), ("BE", 72.0), ("AT", 65.0)):
        live.apply_price(price(zone, eur))
    live.apply_event(event(EventKind.OPENED, 1), 7)
    with client:
        yield client, services


def test_health_has_the_proof_of_concept_shape_plus_checks(api: tuple[TestClient, GatewayServices]) -> None:
    body = api[0].get("/health").json()
    HealthPublic.model_validate(body)
    assert body["status"] == "degraded" and body["checks"] == {"nats": False, "database": False}
    assert body["timestamp"].endswith("Z")


def test_latest_prices(api: tuple[TestClient, GatewayServices]) -> None:
    client, services = api
    body = client.get("/api/prices/latest").json()
    PricesPublic.model_validate(body)
    assert body["status"] == "success" and body["count"] == 5
    de = next(p for p in body["prices"] if p["zone"] == "DE-LU")
    assert (de["market"], de["price"], de["timestamp"]) == ("DE-LU", 60.0, "2026-01-15T10:00:00Z")
    services.live.apply_price(price("DE", 99.0, T0 + timedelta(minutes=15)))  # the cache follows changes
    body = client.get("/api/prices/latest", params={"market": "day_ahead", "zone": "DE,FR"}).json()
    assert [(p["zone"], p["price"]) for p in body["prices"]] == [("DE-LU", 99.0), ("FR", 80.0)]
    assert client.get("/api/prices/latest", params={"market": "intraday"}).json()["count"] == 0


def test_invalid_query_values_are_422_with_detail(api: tuple[TestClient, GatewayServices]) -> None:
    client = api[0]
    for path, params in (
        ("/api/prices/latest", {"market": "weekly"}),
        ("/api/prices/latest", {"zone": "XX"}),
        ("/api/prices/history/DE", {"limit": 0}),
        ("/api/prices/history/DE", {"limit": 10001}),
        ("/api/prices/history/DE", {"from": "yesterday"}),
        ("/api/prices/history/DE", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
        ("/api/opportunities/history", {"offset": -1}),
        ("/api/opportunities/history", {"pair": "DE-XX"}),
        ("/api/opportunities/history", {"format": "xml"}),
        ("/api/spreads/opportunities", {"pair": "FR/FR"}),
        # Calendar edges (an offset moves them out of range) and implausible bounds: 422, never 500.
        ("/api/prices/history/DE", {"to": "9999-12-31T23:59:59-14:00"}),
        ("/api/prices/history/DE", {"from": "0001-01-01T00:00:00+01:00"}),
        ("/api/opportunities/history", {"from": "0001-01-01T00:00:00+01:00"}),
        ("/api/opportunities/history", {"to": "9999-12-31T23:59:59-14:00"}),
    ):
        response = client.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.json()["detail"]


def test_implausible_but_representable_bounds_are_clamped_to_the_window(
    api: tuple[TestClient, GatewayServices],
) -> None:
    # "Everything since 1970" or "until 9999" is a fair filter: it is intersected with the window
    # (here the history query then finds no database: 503, not a 422 nor a 500).
    for params in (
        {"from": "1970-01-01T00:00:00Z"},
        {"to": "9999-12-31T23:59:59Z"},
        {"to": "9999-12-31T23:59:59"},
    ):
        response = api[0].get("/api/prices/history/DE", params=params)
        assert response.status_code == 503, (params, response.text)


def test_unknown_market_is_404_naming_the_valid_ones(api: tuple[TestClient, GatewayServices]) -> None:
    response = api[0].get("/api/prices/history/XX")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert detail.startswith("unknown market 'XX'; valid markets: ") and all(z in detail for z in ZONE_CODES)


def test_history_without_database_is_503_with_a_clear_detail(api: tuple[TestClient, GatewayServices]) -> None:
    for path in (
        "/api/prices/history/DE?limit=5",
        "/api/opportunities/history",
        "/api/prices/history/FR?format=csv",
    ):
        response = api[0].get(path)
        assert response.status_code == 503
        assert response.json() == {"detail": "database unavailable: not connected yet"}


def test_spreads_latest_lists_every_pair_of_every_rule(api: tuple[TestClient, GatewayServices]) -> None:
    client = api[0]
    body = client.get("/api/spreads/latest").json()
    SpreadsPublic.model_validate(body)
    assert body["count"] == 10 and body["rules"] == ["proof-of-concept"]
    de_fr = next(r for r in body["data"] if r["pair"] == ["DE-LU", "FR"])
    assert de_fr["net_eur_mwh"] == 17.5 and de_fr["is_opportunity"] and de_fr["reason"] is None
    assert client.get("/api/spreads/latest", params={"rule": "proof-of-concept"}).json()["count"] == 10
    missing = client.get("/api/spreads/latest", params={"rule": "nope"})
    assert missing.status_code == 404 and "running rules: proof-of-concept" in missing.json()["detail"]


def test_open_opportunities_have_the_proof_of_concept_shape(api: tuple[TestClient, GatewayServices]) -> None:
    client = api[0]
    body = client.get("/api/spreads/opportunities").json()
    OpportunitiesPublic.model_validate(body)
    (opp,) = body["opportunities"]
    assert opp["market_pair"] == "DE-LU-FR" and opp["spread"] == 20.0 and opp["net_opportunity"] == 17.5
    assert (opp["low_market"], opp["low_price"], opp["high_market"], opp["high_price"]) == (
        "DE-LU",
        60.0,
        "FR",
        80.0,
    )
    assert (
        opp["transmission_cost"] == 2.5 and opp["strategy"] == "Buy in DE-LU at €60.00, sell in FR at €80.00"
    )
    assert opp["id"] == "proof-of-concept/DE-LU/FR/day_ahead/20260115T1000Z" and opp["delivery_end"].endswith(
        "Z"
    )
    assert client.get("/api/spreads/opportunities", params={"pair": "DE-FR"}).json()["count"] == 1
    assert client.get("/api/spreads/opportunities", params={"pair": "NL/BE"}).json()["count"] == 0


def test_old_opportunities_are_not_current() -> None:
    client, services = make_client(gateway_opportunity_max_age_seconds=60)
    services.live.apply_event(
        event(EventKind.OPENED, 1, detected=datetime.now(UTC) - timedelta(minutes=2)), 1
    )
    with client:
        assert client.get("/api/spreads/opportunities").json()["count"] == 0


def test_reference_data(api: tuple[TestClient, GatewayServices]) -> None:
    client = api[0]
    zones = ZonesPublic.model_validate(client.get("/api/zones").json())
    assert zones.count == len(ZONE_CODES) and zones.data[0].code == "DE-LU"
    borders = BordersPublic.model_validate(client.get("/api/borders").json())
    alegro = next(b for b in borders.data if b.name == "ALEGrO")
    assert alegro.zones == ["BE", "DE-LU"] and alegro.technology == "DC" and alegro.loss_factor == 0.01
    assert (alegro.capture, alegro.long_term_right, alegro.flow_based) == ("congestion_income", "FTR", "Core")
    swiss = next(b for b in borders.data if b.zones == ["CH", "DE-LU"])
    assert (swiss.capture, swiss.long_term_right, swiss.flow_based) == ("explicit_capacity", "PTR", None)


def test_openapi_documents_every_endpoint_with_examples(api: tuple[TestClient, GatewayServices]) -> None:
    doc = api[0].get("/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/health",
        "/api/prices/latest",
        "/api/prices/history/{market}",
        "/api/spreads/latest",
        "/api/spreads/opportunities",
        "/api/opportunities/history",
        "/api/zones",
        "/api/borders",
        "/api/stream/prices",
        "/api/stream/opportunities",
    ):
        ok = paths[path]["get"]["responses"]["200"]
        content = next(iter(ok["content"].values()))
        schema = content.get("schema", {})
        ref = schema.get("$ref", "").rsplit("/", 1)[-1]
        has_example = "example" in content or "examples" in doc["components"]["schemas"].get(ref, {})
        assert has_example, path
    assert api[0].get("/docs").status_code == 200


def test_metrics_count_requests_by_route_template(api: tuple[TestClient, GatewayServices]) -> None:
    client = api[0]
    client.get("/api/prices/history/XX")
    text = client.get("/metrics").text
    assert (
        'inthegrid_gateway_requests_total{method="GET",route="/api/prices/history/{market}",status="404"}'
        in text
    )
    assert "inthegrid_gateway_request_duration_seconds_bucket" in text
