"""The app factory: dashboard hook, route table."""

from __future__ import annotations

import importlib.util

import pytest
from fastapi.testclient import TestClient

from inthegrid.gateway import app as app_module
from inthegrid.gateway.app import api_base_url, create_app
from inthegrid.platform.settings import GatewaySettings


def settings(**values: object) -> GatewaySettings:
    return GatewaySettings.model_validate(values)


def test_dashboard_is_skipped_cleanly_when_its_module_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "DASHBOARD_MODULE", "inthegrid.gateway.no_such_dashboard")
    app = create_app(settings(dashboard=True), start_services=False)
    assert not [r for r in app.routes if getattr(r, "path", "") == "/dashboard"]


def test_gateway_without_gradio_serves_the_api_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # An image without the `dashboard` extra: the gateway still starts, just without /dashboard.
    monkeypatch.setattr(app_module, "DASHBOARD_REQUIRES", "no_such_gradio")
    app = create_app(settings(dashboard=True), start_services=False)
    assert not [r for r in app.routes if getattr(r, "path", "").startswith("/dashboard")]
    assert "/health" in app.openapi()["paths"]


def test_dashboard_can_be_turned_off() -> None:
    app = create_app(settings(dashboard=False), start_services=False)
    assert not [r for r in app.routes if getattr(r, "path", "") == "/dashboard"]


@pytest.mark.skipif(
    importlib.util.find_spec(app_module.DASHBOARD_MODULE) is None, reason="no dashboard module yet"
)
def test_dashboard_is_mounted_when_enabled() -> None:
    app = create_app(settings(dashboard=True), start_services=False)
    with TestClient(app) as client:
        response = client.get("/dashboard/")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test_api_base_url_points_at_the_bound_port() -> None:
    assert api_base_url(settings(http_host="0.0.0.0", http_port=8123)) == "http://127.0.0.1:8123"
    assert api_base_url(settings(http_host="10.0.0.5", http_port=80)) == "http://10.0.0.5:80"
