"""The analytics endpoints against a real PostgreSQL holding a year of the real price table: the
answers equal the analytics functions on the same table, and agree with the published facts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from inthegrid.analytics.divergence import divergence
from inthegrid.gateway.app import create_app
from inthegrid.gateway.services import GatewayServices
from inthegrid.platform.db import connect_pool, run_migrations
from inthegrid.platform.settings import GatewaySettings
from inthegrid.sources.table import PriceTable, read_table

ROOT = Path(__file__).parents[4]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
ZONES = ["DE-LU", "FR", "NL", "AT"]
YEAR_2023 = {"from": "2022-12-31T23:00:00Z", "to": "2023-12-31T23:00:00Z"}  # market-time 2023
PUBLISHED = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def table_2023() -> PriceTable:
    table = read_table(SAMPLE).between("2022-12-31T23:00:00Z", "2023-12-31T23:00:00Z")
    return PriceTable(table.frame[ZONES], table.period)


async def store(database_url: str, table: PriceTable) -> None:
    pool = await connect_pool(database_url, timeout=30)
    try:
        await run_migrations(pool)
        long = table.frame.stack().reset_index()
        long.columns = ["start", "zone", "price"]
        rows = [
            (zone, "day_ahead", 60, start.to_pydatetime(), round(price, 2), "table", PUBLISHED)
            for start, zone, price in long.itertuples(index=False)
        ]
        # An older, wrong record of one period from another source: the latest published must win.
        first = table.frame.index[0].to_pydatetime()
        rows.append(("DE-LU", "day_ahead", 60, first, 9999.0, "stale", PUBLISHED - timedelta(days=1)))
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "prices",
                records=rows,
                columns=[
                    "zone",
                    "market",
                    "resolution_minutes",
                    "delivery_start",
                    "price_eur_mwh",
                    "source",
                    "published_at",
                ],
            )
    finally:
        await pool.close()


@pytest.fixture
async def api(database_url: str, table_2023: PriceTable) -> AsyncIterator[httpx.AsyncClient]:
    await store(database_url, table_2023)
    settings = GatewaySettings.model_validate({"database_url": database_url, "dashboard": False})
    services = GatewayServices(settings)
    stop = asyncio.Event()
    connecting = asyncio.create_task(services.db.connect(stop))
    await asyncio.wait_for(connecting, 30)
    app = create_app(settings, services=services, start_services=False, mount_dashboard=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as client:
            yield client
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await services.db.close()


async def test_divergence_equals_the_table_and_the_published_share(api, table_2023):
    answer = (await api.get("/api/analytics/divergence", params={"pair": "FR-DE", **YEAR_2023})).json()
    assert answer["pair"] == ["DE-LU", "FR"] and answer["spread"] == "FR - DE-LU"
    assert answer["resolution"] == "PT60M"
    (row,) = answer["rows"]
    expected = divergence(table_2023.frame, "DE-LU", "FR", "year").loc[2023]
    assert row["year"] == 2023 and row["periods"] == expected["periods"]
    assert row["converged_share"] == pytest.approx(expected["converged_share"], abs=1e-4)
    assert row["max_abs_spread_eur_mwh"] == pytest.approx(expected["max_abs_spread_eur_mwh"])  # not 9999
    assert row["converged_share"] == pytest.approx(0.29, abs=0.005)  # published: about 29 %


async def test_heatmap_grid_and_csv(api, table_2023):
    answer = (await api.get("/api/analytics/heatmap", params={"pair": "DE-LU/FR", **YEAR_2023})).json()
    assert len(answer["z"]) == 12 and all(len(row) == 24 for row in answer["z"])
    assert answer["count"] == 12 * 24
    csv = await api.get(
        "/api/analytics/divergence",
        params={"pair": "DE-LU/FR", "by": "month_hour", "format": "csv", **YEAR_2023},
    )
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("month,hour,periods,converged_share") and len(lines) == 1 + 12 * 24


async def test_negative_hours_congestion_and_correlation(api):
    negative = (await api.get("/api/analytics/negative-hours", params={"zone": "DE", **YEAR_2023})).json()
    assert negative["rows"] == [{"zone": "DE-LU", "year": 2023, "hours": 301.0}]  # published: 301
    congestion = (await api.get("/api/analytics/congestion", params=YEAR_2023)).json()
    borders = {r["border"] for r in congestion["rows"]}
    assert borders == {"DE-LU/FR", "DE-LU/NL", "DE-LU/AT"}  # FR/NL and FR/AT are not borders
    assert "not a trader's profit" in congestion["note"]
    assert all(r["congestion_value_eur_per_mw"] >= 0 for r in congestion["rows"])
    correlation = (await api.get("/api/analytics/correlation", params=YEAR_2023)).json()
    assert correlation["zones"] == sorted(ZONES)
    assert correlation["matrix"][0][0] == 1.0
    assert {r["year"] for r in correlation["rows"]} == {2023}


async def test_empty_range_answers_empty_not_an_error(api):
    params = {"pair": "DE-LU/FR", "from": "2019-01-01T00:00:00Z", "to": "2019-02-01T00:00:00Z"}
    answer = (await api.get("/api/analytics/divergence", params=params)).json()
    assert answer["count"] == 0 and answer["resolution"] is None


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/analytics/divergence", {"pair": "DE/XX"}, "pair"),
        ("/api/analytics/divergence", {"pair": "FR/FR"}, "pair"),
        ("/api/analytics/divergence", {}, "pair"),
        ("/api/analytics/divergence", {"pair": "DE/FR", "by": "week"}, "by"),
        ("/api/analytics/heatmap", {"pair": "DE/FR", "value": "profit"}, "value"),
        (
            "/api/analytics/correlation",
            {"from": "2010-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"},
            "from",
        ),
        ("/api/analytics/correlation", {"from": "2024-01-02T00:00:00Z", "to": "2024-01-01T00:00:00Z"}, "to"),
        ("/api/analytics/negative-hours", {"zone": "XX"}, "zone"),
        ("/api/analytics/congestion", {"format": "xml"}, "format"),
    ],
)
async def test_bad_parameters_are_422_with_detail(api, path, params, field):
    response = await api.get(path, params=params)
    assert response.status_code == 422, response.text
    assert any(field in d["loc"] for d in response.json()["detail"])


async def test_endpoints_are_in_openapi_with_examples(api):
    spec = (await api.get("/openapi.json")).json()
    for path in ("divergence", "heatmap", "congestion", "negative-hours", "correlation"):
        assert f"/api/analytics/{path}" in spec["paths"]
    parameters = spec["paths"]["/api/analytics/divergence"]["get"]["parameters"]
    pair = next(p for p in parameters if p["name"] == "pair")
    assert pair["examples"]["DE-LU/FR"]["value"] == "DE-LU/FR"
