"""The WebSocket streams against a real nats-server and the gateway on uvicorn: the same events, ids,
filters and resume semantics as Server-Sent Events, and the same API keys."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from inthegrid.domain.batch_codec import POSITIONS_PER_MESSAGE
from tests.support.gateway import (
    RING_SIZE,
    Gateway,
    clients_at_least,
    prices_for,
    publish_prices,
    single_price_ids,
    sse_clients,
    wait_until,
)


def ws_url(gw: Gateway, path: str) -> str:
    return gw.url.replace("http://", "ws://", 1) + path


async def read_events(
    gw: Gateway, path: str, n: int, *, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> list[dict]:
    """``n`` events from one connection (heartbeats skipped)."""
    events: list[dict] = []
    async with (
        asyncio.timeout(timeout),
        websockets.connect(ws_url(gw, path), additional_headers=headers) as ws,
    ):
        while len(events) < n:
            message = orjson.loads(await ws.recv())
            if message["event"] != "heartbeat":
                events.append(message)
    return events


async def follow(gw: Gateway, path: str, total: int, timeout: float = 120.0) -> tuple[list[int], int]:
    """Like a client that reconnects with last_event_id whenever the gateway closes its socket with
    4000; returns the ids received and how many times it was told to resume."""
    seen: list[int] = []
    resumed = 0
    async with asyncio.timeout(timeout):
        while len(seen) < total:
            query = f"{'&' if '?' in path else '?'}last_event_id={seen[-1]}" if seen else ""
            try:
                async with websockets.connect(ws_url(gw, path + query), max_queue=None) as ws:
                    while len(seen) < total:
                        message = orjson.loads(await ws.recv())
                        if message["event"] != "heartbeat":
                            seen.append(message["id"])
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4000, closed
                resumed += 1
    return seen, resumed


async def test_live_prices_with_a_zone_filter_carry_stream_sequences(gateway: Gateway) -> None:
    gw = gateway
    baseline = sse_clients()
    reader = asyncio.create_task(read_events(gw, "/api/ws/prices?zone=FR", 3))
    await wait_until(clients_at_least(baseline + 1), what="a WebSocket client")
    start = (await gw.bus.js.stream_info("PRICES")).state.last_seq
    await publish_prices(gw.bus, [*prices_for("DE", 0, 3), *prices_for("FR", 0, 3)])
    got = await reader
    assert [e["data"]["zone"] for e in got] == ["FR"] * 3 and {e["event"] for e in got} == {"price"}
    assert [e["id"] for e in got] == single_price_ids(start + 4, 3)  # DE took the first three
    assert all(e["data"]["sequence"] == e["id"] for e in got)


@pytest.mark.parametrize("missed", [5, 3 * RING_SIZE], ids=["from-ring", "from-stream"])
async def test_reconnecting_with_last_event_id_misses_nothing(gateway: Gateway, missed: int) -> None:
    gw = gateway
    await publish_prices(gw.bus, prices_for("NL", 0, 1))
    baseline = sse_clients()
    first_reader = asyncio.create_task(read_events(gw, "/api/ws/prices", 4))
    await wait_until(clients_at_least(baseline + 1), what="a WebSocket client")
    await publish_prices(gw.bus, prices_for("NL", 1, 4))
    last_id = (await first_reader)[-1]["id"]
    await publish_prices(gw.bus, prices_for("NL", 5, missed))  # published while disconnected
    resumed = await read_events(gw, f"/api/ws/prices?last_event_id={last_id}", missed)
    assert [e["id"] for e in resumed] == single_price_ids(last_id // POSITIONS_PER_MESSAGE + 1, missed)


async def test_a_client_that_falls_behind_is_told_to_resume_and_misses_nothing(gateway: Gateway) -> None:
    gw = gateway
    total, burst = 3000, 300  # bursts larger than the 64-event queue
    baseline = sse_clients()
    reader = asyncio.create_task(follow(gw, "/api/ws/prices", total))
    await wait_until(clients_at_least(baseline + 1), what="a WebSocket client")
    start = (await gw.bus.js.stream_info("PRICES")).state.last_seq
    for batch in range(total // burst):
        await publish_prices(gw.bus, prices_for("BE", batch * burst, burst))
    seen, _ = await reader
    assert seen == single_price_ids(start + 1, total)  # all, in order, none twice


async def test_an_invalid_filter_is_refused(gateway: Gateway) -> None:
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        await read_events(gateway, "/api/ws/prices?zone=XX", 1, timeout=10)


@pytest.mark.parametrize("gateway", [{"api_keys": ["ws-test-key"]}], indirect=True)
async def test_api_keys_guard_the_websocket_upgrade(gateway: Gateway) -> None:
    gw = gateway
    with pytest.raises(InvalidStatus) as refused:
        await read_events(gw, "/api/ws/prices", 1, timeout=10)
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as wrong:
        await read_events(gw, "/api/ws/prices", 1, headers={"X-API-Key": "nope"}, timeout=10)
    assert wrong.value.response.status_code == 401
    baseline = sse_clients()
    reader = asyncio.create_task(read_events(gw, "/api/ws/prices", 1, headers={"X-API-Key": "ws-test-key"}))
    await wait_until(clients_at_least(baseline + 1), what="an authenticated WebSocket client")
    await publish_prices(gw.bus, prices_for("AT", 0, 1))
    (event,) = await reader
    assert event["data"]["zone"] == "AT"
