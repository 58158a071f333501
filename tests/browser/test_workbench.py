"""The divergence and forecast tabs in a real Chromium: a gateway (own process) over a database that
holds real 2023 and April 2024 prices and a trained model; the plots must render (non-blank pixels),
not just exist."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from inthegrid.local.embedded import free_port
from inthegrid.sources.table import PriceTable, read_table
from tests.browser.conftest import Platform, run_async, wait_http
from tests.browser.test_dashboard import open_page, page_name, wait_for_text
from tests.integration.gateway.rest.test_analytics import store
from tests.support.processes import ServiceProcess

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
ZONES = ["DE-LU", "FR", "NL", "BE", "AT"]


async def _fresh_database(url: str) -> str:
    """A database of its own on the platform's PostgreSQL, so the other browser tests see no change."""
    name = "workbench_browser"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def workbench_gateway(
    platform: Platform, artifacts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    from inthegrid.forecast.model import SpreadForecaster, save_forecaster

    table = read_table(SAMPLE)
    database_url = run_async(_fresh_database(platform.database_url))
    for first, last in (("2022-12-31T23:00:00Z", "2023-12-31T23:00:00Z"), ("2024-04-20", "2024-04-30")):
        window = table.between(first, last)
        run_async(store(database_url, PriceTable(window.frame[ZONES], window.period)))
    model = SpreadForecaster().fit(table.between("2023-01-01", "2023-12-31").frame, [("DE-LU", "FR")])
    model_path = save_forecaster(model, tmp_path_factory.mktemp("model") / "spreads.pkl")
    port = free_port()
    gateway = ServiceProcess(
        ["gateway"],
        {
            "INTHEGRID_NATS_URL": platform.nats_url,
            "INTHEGRID_DATABASE_URL": database_url,
            "INTHEGRID_HTTP_PORT": str(port),
            "INTHEGRID_HTTP_HOST": "127.0.0.1",
            "INTHEGRID_FORECAST_MODEL_PATH": str(model_path),
        },
        artifacts / "gateway-workbench.log",
    )
    try:
        gateway.start(wait_ready=90)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health")
        yield url
    finally:
        gateway.terminate()


def assert_plot_drawn(page: Any, selector: str, artifacts: Path, name: str) -> None:
    """The plot's pixels: mostly not background, and many colours (a heatmap or a band, not a message)."""
    from PIL import Image

    element = page.locator(selector)
    element.scroll_into_view_if_needed()
    png = element.screenshot(path=str(artifacts / f"{name}.png"))
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = list(image.getdata())
    drawn = sum(1 for p in pixels if min(p) < 235) / len(pixels)
    colours = len(set(pixels))
    assert drawn > 0.15 and colours > 200, f"{selector} looks blank: {drawn:.0%} drawn, {colours} colours"


def test_divergence_tab_draws_heatmap_and_correlation(
    chromium: Any, workbench_gateway: str, artifacts: Path
) -> None:
    page, errors = open_page(chromium, f"{workbench_gateway}/dashboard/")
    try:
        page.get_by_role("tab", name="Divergence").click()
        page.locator("#divergence-from textarea, #divergence-from input").first.fill("2023-01-01")
        page.locator("#divergence-to textarea, #divergence-to input").first.fill("2023-12-31")
        page.locator("#divergence-run").click()
        wait_for_text(page, "#divergence-summary", "had the same price in", timeout=60)
        summary = page.locator("#divergence-summary").inner_text()
        assert "DE-LU and FR had the same price in 28.7 %" in summary  # published: about 29 % in 2023
        assert "DE-LU 2023: 301 h" in summary  # published: 301 negative hours
        page.locator("#divergence-heatmap .hm image").first.wait_for(state="attached", timeout=30000)
        page.locator("#correlation-matrix .hm image").first.wait_for(state="attached", timeout=30000)
        assert_plot_drawn(page, "#divergence-heatmap", artifacts, "workbench-divergence-heatmap")
        assert_plot_drawn(page, "#correlation-matrix", artifacts, "workbench-correlation")
        page.screenshot(path=str(artifacts / "workbench-divergence.png"), full_page=True)
    finally:
        page.screenshot(path=str(artifacts / f"last-{page_name(page)}.png"), full_page=True)
        page.context.close()
    assert errors == [], "\n".join(errors)


def test_forecast_tab_draws_the_band(chromium: Any, workbench_gateway: str, artifacts: Path) -> None:
    page, errors = open_page(chromium, f"{workbench_gateway}/dashboard/")
    try:
        page.get_by_role("tab", name="Forecast").click()
        page.locator("#forecast-day textarea, #forecast-day input").first.fill("2024-05-01")
        page.locator("#forecast-run").click()
        wait_for_text(page, "#forecast-note", "largest expected gap", timeout=60)
        page.locator("#forecast-plot .scatterlayer .trace").nth(2).wait_for(state="attached", timeout=30000)
        assert_plot_drawn(page, "#forecast-plot", artifacts, "workbench-forecast-plot")
        assert "Expected (P50)" in page.locator("#forecast-table").inner_text()
        page.screenshot(path=str(artifacts / "workbench-forecast.png"), full_page=True)
    finally:
        page.screenshot(path=str(artifacts / f"last-forecast-{page_name(page)}.png"), full_page=True)
        page.context.close()
    assert errors == [], "\n".join(errors)
