"""/api/forecast against a real PostgreSQL: the served forecast equals the model applied to the table,
ignores stored prices of the delivery day itself, and refuses what it cannot answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pytest

from inthegrid.gateway.app import create_app
from inthegrid.gateway.services import GatewayServices
from inthegrid.platform.settings import GatewaySettings
from inthegrid.sources.table import PriceTable, read_table
from tests.integration.gateway.rest.test_analytics import store

pytest.importorskip("sklearn")

from inthegrid.forecast.model import SpreadForecaster, save_forecaster

ROOT = Path(__file__).parents[4]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
DAY = date(2024, 5, 1)


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return read_table(SAMPLE)


@pytest.fixture(scope="module")
def model_file(table: PriceTable, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SpreadForecaster]:
    model = SpreadForecaster().fit(table.between("2023-01-01", "2023-12-31").frame, [("DE-LU", "FR")])
    return save_forecaster(model, tmp_path_factory.mktemp("model") / "spreads.pkl"), model


async def client_for(settings: GatewaySettings) -> tuple[httpx.AsyncClient, GatewayServices, asyncio.Event]:
    services = GatewayServices(settings)
    stop = asyncio.Event()
    await asyncio.wait_for(services.db.connect(stop), 30)
    app = create_app(settings, services=services, start_services=False, mount_dashboard=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw"), services, stop


@pytest.fixture
async def api(database_url: str, table: PriceTable, model_file) -> AsyncIterator[httpx.AsyncClient]:
    # Stored: ten days before DAY and DAY itself (its outcome must not reach the forecast).
    window = table.between("2024-04-20", "2024-05-01")
    await store(database_url, PriceTable(window.frame[["DE-LU", "FR"]], window.period))
    settings = GatewaySettings.model_validate(
        {"database_url": database_url, "dashboard": False, "forecast_model_path": str(model_file[0])}
    )
    client, services, stop = await client_for(settings)
    try:
        yield client
    finally:
        await client.aclose()
        stop.set()
        with contextlib.suppress(Exception):
            await services.db.close()


async def test_served_forecast_is_the_model_on_prices_before_the_day(api, table, model_file):
    answer = (
        await api.get("/api/forecast/spreads", params={"border": "FR/DE", "day": DAY.isoformat()})
    ).json()
    assert answer["border"] == ["DE-LU", "FR"] and answer["spread"] == "FR - DE-LU" and answer["count"] == 24
    assert answer["rows"][0]["delivery_start"] == "2024-04-30T22:00:00Z"  # 00:00 in Brussels (CEST)
    # The whole table holds the outcome of DAY and later: predict_day cuts it off, as the gateway must.
    expected = model_file[1].predict_day(table.frame, ("DE-LU", "FR"), DAY)
    served = np.array([[r["p10"], r["p50"], r["p90"]] for r in answer["rows"]])
    np.testing.assert_allclose(served, expected.to_numpy(), atol=0.006)
    csv = await api.get(
        "/api/forecast/spreads", params={"border": "DE-LU/FR", "day": DAY.isoformat(), "format": "csv"}
    )
    assert csv.text.splitlines()[0] == "hour,delivery_start,p10,p50,p90"
    borders = (await api.get("/api/forecast/borders")).json()
    assert borders["borders"] == ["DE-LU/FR"]


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({"border": "DE-LU/NL", "day": "2024-05-01"}, 422, "the model has no border DE-LU/NL"),
        ({"border": "DE/XX"}, 422, "unknown bidding zone"),
        ({"border": "DE-LU/FR", "day": "2999-01-01"}, 422, "cannot be forecast yet"),
        ({"border": "DE-LU/FR", "day": "May"}, 422, "date"),
        ({"border": "DE-LU/FR", "day": "2024-03-01"}, 404, "no stored prices"),
    ],
)
async def test_what_cannot_be_answered_is_refused_clearly(api, params, status, text):
    response = await api.get("/api/forecast/spreads", params=params)
    assert response.status_code == status, response.text
    assert text in str(response.json()["detail"])


async def test_without_a_model_the_endpoint_says_how_to_configure_one(database_url):
    settings = GatewaySettings.model_validate({"database_url": database_url, "dashboard": False})
    client, services, stop = await client_for(settings)
    try:
        response = await client.get("/api/forecast/spreads", params={"border": "DE-LU/FR"})
        assert response.status_code == 404
        assert "INTHEGRID_FORECAST_MODEL_PATH" in response.json()["detail"]
    finally:
        await client.aclose()
        stop.set()
        await services.db.close()
