"""A real platform for the browser: nats-server, PostgreSQL, the gateway (with /dashboard mounted)
and a stand-alone dashboard, each a real process, plus Debian's Chromium driven by Playwright.

Prices and opportunity events are published onto the bus as a feed and a calculator would, so the
dashboard is exercised through the whole path bus -> gateway -> API -> Gradio -> browser.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from inthegrid.domain.codec import encode_event, encode_price
from inthegrid.domain.economics import value_pair
from inthegrid.domain.opportunities import OpportunityBook, OpportunityEvent
from inthegrid.domain.prices import Market, Price, Resolution, floor_to_period, make_price
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.local.embedded import free_port
from inthegrid.platform.bus import connect_bus, opportunity_subject, price_subject, publish_all
from inthegrid.platform.rules_kv import announce_rule
from inthegrid.platform.settings import CommonSettings
from tests.support import servers
from tests.support.polling import wait_until
from tests.support.processes import ServiceProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
BROWSER_DIR = __file__.rsplit("/", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.path).startswith(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium); "
            "nothing is downloaded by these tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Platform:
    nats_url: str
    database_url: str
    gateway_url: str
    gateway: ServiceProcess

    def publish(self, prices: list[Price] = (), events: list[OpportunityEvent] = ()) -> None:  # type: ignore[assignment]
        run_async(_publish(self.nats_url, list(prices), list(events)))


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on a fresh loop in a worker thread: Playwright's sync API owns this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


async def _publish(nats_url: str, prices: list[Price], events: list[OpportunityEvent]) -> None:
    bus = await connect_bus(CommonSettings(nats_url=nats_url, connect_timeout_seconds=10), "browser-test")
    try:
        items = [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices]
        items += [(opportunity_subject(e.rule, e.pair), encode_event(e), e.message_id) for e in events]
        await publish_all(bus, items)
    finally:
        await bus.close()


async def _put_rule(nats_url: str) -> None:
    """Announce the proof-of-concept rule as a running calculator would, so spreads are listed."""
    rule = proof_of_concept_rule()
    bus = await connect_bus(CommonSettings(nats_url=nats_url, connect_timeout_seconds=10), "browser-test")
    try:
        await announce_rule(bus, rule.name, rule.spec)
    finally:
        await bus.close()


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Until ``url`` answers 200 (the one polling helper; a refused connection means "not yet")."""
    wait_until(
        lambda: httpx.get(url, timeout=2).status_code == 200,
        timeout,
        f"{url} to answer",
        every=0.2,
        retry_on=(httpx.HTTPError,),
    )


@pytest.fixture(scope="session")
def platform(artifacts: Path) -> Iterator[Platform]:
    reason = servers.missing_binaries()
    if reason:
        pytest.skip(f"server binaries unavailable: {reason}")
    with servers.nats_server() as nats, servers.postgres_server() as pg:
        run_async(_put_rule(nats.url))
        port = free_port()
        env = {"INTHEGRID_NATS_URL": nats.url, "INTHEGRID_DATABASE_URL": pg.url()}
        # The recorder stores prices and events: the history views read them through the gateway.
        recorder = ServiceProcess(["recorder"], env, artifacts / "recorder.log").start(wait_ready=90)
        gateway = ServiceProcess(
            ["gateway"],
            {**env, "INTHEGRID_HTTP_PORT": str(port), "INTHEGRID_HTTP_HOST": "127.0.0.1"},
            artifacts / "gateway.log",
        )
        url = f"http://127.0.0.1:{port}"
        try:
            gateway.start(wait_ready=90)
            wait_http(f"{url}/health")
            yield Platform(nats.url, pg.url(), url, gateway)
        finally:
            gateway.terminate()
            recorder.terminate()


@pytest.fixture(scope="session")
def standalone_dashboard(platform: Platform, artifacts: Path) -> Iterator[str]:
    """``inthegrid dashboard`` in its own process with a slow timer: only SSE push updates it fast."""
    yield from _dashboard_process(platform.gateway_url, artifacts / "dashboard.log", refresh=120.0)


@pytest.fixture(scope="session")
def orphan_dashboard(artifacts: Path) -> Iterator[tuple[str, str]]:
    """A dashboard whose gateway address answers nothing (a port nobody listens on)."""
    dead = f"http://127.0.0.1:{free_port()}"
    for url in _dashboard_process(dead, artifacts / "dashboard-orphan.log", refresh=2.0):
        yield url, dead


def _dashboard_process(api: str, log_path: Path, refresh: float) -> Iterator[str]:
    import subprocess

    port = free_port()
    env = {**os.environ, "INTHEGRID_LOG_LEVEL": "INFO", "GRADIO_ANALYTICS_ENABLED": "False"}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inthegrid.cli",
                "dashboard",
                "--api",
                api,
                "--port",
                str(port),
                "--refresh",
                str(refresh),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, timeout=90)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def current_prices(values: dict[str, float], now: datetime | None = None) -> list[Price]:
    """One day-ahead quarter-hour price per zone for the period that contains ``now``."""
    now = now or datetime.now(UTC)
    start = floor_to_period(now, Resolution.PT15M)
    return [
        make_price(
            zone,
            start,
            value,
            resolution=Resolution.PT15M,
            market=Market.DAY_AHEAD,
            source="browser-test",
            published_at=now,
        )
        for zone, value in values.items()
    ]


def opened_event(buy: str, sell: str, buy_price: float, sell_price: float) -> OpportunityEvent:
    """The event a proof-of-concept calculator publishes when buy->sell becomes profitable."""
    rule = proof_of_concept_rule()
    now = datetime.now(UTC)
    start = floor_to_period(now, Resolution.PT15M)
    model = next(m for pair, m in rule.pairs.items() if set(pair) == {buy, sell})
    prices = {buy: buy_price, sell: sell_price}
    value = value_pair(model, prices[model.pair[0]], prices[model.pair[1]], 0.25)
    assert value is not None and value.buy_zone == buy
    event = OpportunityBook(rule.name, rule.market).observe(
        model.pair, start, Resolution.PT15M, value, True, now
    )
    assert event is not None
    return event
