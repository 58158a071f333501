"""The ENTSO-E client and source against a local HTTP server standing in for the API.

The server is a real HTTP server on a free port (stdlib, in a thread); each test scripts its answers.
Everything the client does is exercised over the wire: throttling, retries with backoff on 429 and
5xx, permanent errors, the Acknowledgement "no matching data", and that the token is never logged.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr

from inthegrid.errors import NotPublishedYetError, SourceError
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.entsoe.client import EntsoeClient
from inthegrid.sources.entsoe.source import EntsoeSource

FIXTURES = Path(__file__).parents[1] / "fixtures" / "entsoe"
NL_DOC = (FIXTURES / "jarvis_NL_A44_day_ahead_2025-04-02_A03_gap_negative.xml").read_bytes()
ACK_DOC = (FIXTURES / "jarvis_NL_A44_no_data_acknowledgement_2023-02-20.xml").read_bytes()
TOKEN = "tok-3f9a1c77-secret-value"
START = datetime(2025, 4, 1, 22, tzinfo=UTC)
END = datetime(2025, 4, 2, 22, tzinfo=UTC)

Answer = tuple[int, bytes, dict[str, str]]


class FakeEntsoe:
    """Records every request (monotonic time, query) and answers with ``respond(query, n)``."""

    def __init__(self, respond: Callable[[dict[str, str], int], Answer]) -> None:
        self.respond = respond
        self.requests: list[tuple[float, dict[str, str]]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                with fake.lock:
                    fake.requests.append((time.monotonic(), query))
                    n = len(fake.requests)
                status, body, headers = fake.respond(query, n)
                self.send_response(status)
                for key, value in {"Content-Type": "application/xml", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEntsoe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[dict[str, str], int], Answer]], FakeEntsoe]]:
    started: list[FakeEntsoe] = []

    def start(respond: Callable[[dict[str, str], int], Answer]) -> FakeEntsoe:
        server = FakeEntsoe(respond).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


def client_for(server: FakeEntsoe, **kw: float) -> EntsoeClient:
    options = {"requests_per_minute": 399, "backoff_seconds": 0.05, "max_attempts": 4, **kw}
    return EntsoeClient(server.url, SecretStr(TOKEN), **options)  # type: ignore[arg-type]


async def test_fetches_a_document_with_the_a44_query(serve) -> None:
    server = serve(lambda q, n: (200, NL_DOC, {}))
    client = client_for(server)
    try:
        body = await client.fetch_day_ahead("10YNL----------L", START, END)
    finally:
        await client.aclose()
    assert body == NL_DOC
    ((_, query),) = server.requests
    assert query == {
        "documentType": "A44",
        "in_Domain": "10YNL----------L",
        "out_Domain": "10YNL----------L",
        "periodStart": "202504012200",
        "periodEnd": "202504022200",
        "securityToken": TOKEN,
    }


async def test_requests_are_spaced_below_the_configured_rate(serve) -> None:
    server = serve(lambda q, n: (200, NL_DOC, {}))
    client = client_for(server, requests_per_minute=120)  # one request per 0.5 s
    try:
        await asyncio.gather(*(client.fetch_day_ahead("10YNL----------L", START, END) for _ in range(4)))
    finally:
        await client.aclose()
    times = [t for t, _ in server.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4
    assert min(gaps) >= 0.45, gaps


async def test_429_and_5xx_are_retried_with_backoff(serve) -> None:
    script = {1: (429, b"slow down", {"Retry-After": "0.2"}), 2: (503, b"", {}), 3: (502, b"", {})}
    server = serve(lambda q, n: script.get(n, (200, NL_DOC, {})))
    client = client_for(server, backoff_seconds=0.1)
    try:
        body = await client.fetch_day_ahead("10YNL----------L", START, END)
    finally:
        await client.aclose()
    assert body == NL_DOC
    times = [t for t, _ in server.requests]
    assert len(times) == 4
    assert times[1] - times[0] >= 0.18  # Retry-After honoured
    assert times[2] - times[1] >= 0.18  # backoff 0.1 * 2
    assert times[3] - times[2] >= 0.38  # backoff 0.1 * 4


async def test_persistent_5xx_gives_up_with_a_source_error(serve) -> None:
    server = serve(lambda q, n: (500, b"boom", {}))
    client = client_for(server, max_attempts=3)
    try:
        with pytest.raises(SourceError, match="after 3 attempts"):
            await client.fetch_day_ahead("10YNL----------L", START, END)
    finally:
        await client.aclose()
    assert len(server.requests) == 3


async def test_unreachable_endpoint_is_a_source_error() -> None:
    client = EntsoeClient("http://127.0.0.1:9/api", SecretStr(TOKEN), backoff_seconds=0.01, max_attempts=2)
    try:
        with pytest.raises(SourceError, match="after 2 attempts"):
            await client.fetch_day_ahead("10YNL----------L", START, END)
    finally:
        await client.aclose()


async def test_rejected_token_is_permanent(serve) -> None:
    server = serve(lambda q, n: (401, b"Unauthorized", {}))
    client = client_for(server)
    try:
        with pytest.raises(SourceError, match="security token") as info:
            await client.fetch_day_ahead("10YNL----------L", START, END)
    finally:
        await client.aclose()
    assert len(server.requests) == 1
    assert TOKEN not in str(info.value)


async def test_acknowledgement_with_an_error_status_is_not_published_yet(serve) -> None:
    server = serve(lambda q, n: (400, ACK_DOC, {}))
    client = client_for(server)
    try:
        with pytest.raises(NotPublishedYetError, match="not published yet"):
            await client.fetch_day_ahead("10YNL----------L", START, END)
    finally:
        await client.aclose()
    assert len(server.requests) == 1


async def test_the_token_is_never_logged(serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx's request lines included
    server = serve(lambda q, n: (503, b"", {}) if n == 1 else (200, NL_DOC, {}))
    client = client_for(server)
    try:
        await client.fetch_day_ahead("10YNL----------L", START, END)
    finally:
        await client.aclose()
    messages = [r.getMessage() for r in caplog.records]
    assert any("securityToken=***" in m for m in messages)  # the redacted URL is what is logged
    assert not any(TOKEN in m for m in messages)


async def test_source_publishes_once_published_and_only_news(serve) -> None:
    """Tomorrow is "not published yet" once, then there; today never: the source keeps going."""
    tomorrow_asks = {"n": 0}

    def respond(query: dict[str, str], n: int) -> Answer:
        if query["periodStart"] == "202504012200":  # delivery day 2025-04-02
            tomorrow_asks["n"] += 1
            return (200, ACK_DOC if tomorrow_asks["n"] == 1 else NL_DOC, {})
        return (200, ACK_DOC, {})  # delivery day 2025-04-01: no data

    server = serve(respond)
    settings = FeedSettings.model_validate(
        dict(
            feed_source="entsoe",
            feed_zones="NL",
            entsoe_base_url=server.url,
            entsoe_token=SecretStr(TOKEN),
            entsoe_requests_per_minute=399,
        )
    )
    source = EntsoeSource.from_settings(settings)
    source.clock = lambda: datetime(2025, 4, 1, 11, 0, tzinfo=UTC)  # after the 10:45Z publication
    source.retry_after = timedelta(seconds=0.05)
    stop = asyncio.Event()
    batches = []

    async def consume() -> None:
        async for batch in source.batches(stop):
            batches.append(batch)

    task = asyncio.create_task(consume())
    deadline = time.monotonic() + 10
    while not batches and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.6)  # more rounds: today is still missing, tomorrow is complete
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(batches) == 1
    assert len(batches[0]) == 24 and {p.zone for p in batches[0]} == {"NL"}
    assert tomorrow_asks["n"] == 2  # asked again only until it was published
    today_asks = sum(1 for _, q in server.requests if q["periodStart"] == "202503312200")
    assert today_asks >= 3  # retried on the schedule, never a crash


def test_missing_token_is_a_config_error() -> None:
    from inthegrid.errors import ConfigError

    with pytest.raises(ConfigError, match="ENTSOE_TOKEN"):
        EntsoeSource.from_settings(FeedSettings.model_validate(dict(feed_source="entsoe", entsoe_token=None)))
