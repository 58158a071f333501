"""Mixed resolutions through the running pipeline: the real DE-LU PT15M and CH PT60M ENTSO-E
documents (CH moved onto DE-LU's dates, both onto today's market day) served by a local stand-in for
the ENTSO-E API -> feed -> JetStream -> calculator -> gateway, against the backtest of the same prices."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from inthegrid.backtest.engine import opportunities_frame, run_backtest
from inthegrid.backtest.manifest import load_rule
from inthegrid.domain.zones import get_zone
from inthegrid.sources.entsoe.parse import parse_prices
from inthegrid.sources.entsoe.schedule import delivery_day, market_day
from inthegrid.sources.table import prices_to_table
from tests.support.processes import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DE_DOC = FIXTURES / "entsoe" / "openhab_DE-LU_A44_day_ahead_2025-10-31_PT15M_two_sequences.xml"
CH_DOC = FIXTURES / "entsoe" / "openhab_CH_A44_day_ahead_2025-11-26_27.xml"
RULE = FIXTURES / "rules" / "de-ch-explicit.yaml"
NO_DATA = (FIXTURES / "entsoe" / "entsoe-guide-sample_acknowledgement_no_matching_data.xml").read_text()
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ")
TIME = "%Y-%m-%dT%H:%M:%SZ"


def _first_start(document: str) -> datetime:
    match = re.search(r"<start>(.*?)</start>", document)
    assert match
    return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)


def _shift(document: str, by: timedelta) -> str:
    """Every period boundary of the document moved by ``by`` (prices and positions unchanged)."""

    def moved(match: re.Match[str]) -> str:
        when = datetime.strptime(match.group(0), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC) + by
        return when.strftime("%Y-%m-%dT%H:%MZ")

    return STAMP.sub(moved, document)


@contextlib.contextmanager
def entsoe_stand_in(documents: dict[str, str]) -> Iterator[str]:
    """A real HTTP server answering A44 queries with the document of the asked zone (by EIC)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            body = documents.get(query.get("in_Domain", ""), NO_DATA).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


async def test_quarter_hours_pair_with_hours_live_exactly_as_in_the_backtest(nats_url, gateway, tmp_path):
    gateway_url = gateway.url
    de_doc, ch_doc = DE_DOC.read_text(), CH_DOC.read_text()
    day = delivery_day(market_day(datetime.now(UTC)))
    onto_today = day.start - _first_start(de_doc)
    documents = {
        get_zone("DE-LU").eic: _shift(de_doc, onto_today),
        get_zone("CH").eic: _shift(ch_doc, _first_start(de_doc) - _first_start(ch_doc) + onto_today),
    }
    rule = load_rule(RULE)
    prices = [
        p for doc in documents.values() for p in parse_prices(doc) if day.start <= p.delivery_start < day.end
    ]
    assert {p.resolution.iso for p in prices} == {"PT15M", "PT60M"}
    frame = opportunities_frame(run_backtest(prices_to_table(prices), rule), time_format=TIME)
    expected = {(row.pair, row.delivery_start): float(row.net_eur_mwh) for row in frame.itertuples()}
    assert len(expected) > 10, "the real documents must give opportunities on the day"

    with entsoe_stand_in(documents) as api:
        env = {"INTHEGRID_NATS_URL": nats_url}
        feed = ServiceProcess(
            ["feed"],
            {
                **env,
                "INTHEGRID_FEED_SOURCE": "entsoe",
                "INTHEGRID_FEED_NAME": "entsoe",
                "INTHEGRID_ENTSOE_TOKEN": "test-token",
                "INTHEGRID_ENTSOE_BASE_URL": api,
                "INTHEGRID_FEED_ZONES": "DE-LU,CH",
            },
            tmp_path / "feed.log",
        )
        calculator = ServiceProcess(
            ["calculator"],
            {**env, "INTHEGRID_RULE_NAME": rule.name, "INTHEGRID_RULE_FILE": str(RULE)},
            tmp_path / "calc.log",
        )
        calculator.start()
        feed.start()
        try:
            live = await _gateway_opportunities(gateway_url, rule.name, day.start, day.end, len(expected))
        finally:
            feed.terminate()
            calculator.terminate()
    assert live.keys() == expected.keys()
    assert live == pytest.approx(expected)


async def _gateway_opportunities(
    url: str, rule: str, start: datetime, end: datetime, wanted: int, timeout: float = 90.0
) -> dict[tuple[str, str], float]:
    """The gateway's open opportunities of the day, once it shows as many as the backtest found."""
    found: dict[tuple[str, str], float] = {}
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                items = (await http.get("/api/spreads/opportunities", params={"rule": rule})).json()
                found = {
                    ("/".join(o["pair"]), o["delivery_start"]): o["net_opportunity"]
                    for o in items.get("opportunities", [])
                    if start.strftime(TIME) <= o["delivery_start"] < end.strftime(TIME)
                }
                if len(found) >= wanted:
                    return found
            await asyncio.sleep(0.2)
    return found
