"""The gateway against a real nats-server and PostgreSQL: live answers fed by JetStream, history
from the database, SSE with resume (ring and stream replay) and a client that stops reading without holding up
another."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import orjson
import pytest

from inthegrid.dashboard.client import GatewayClient
from inthegrid.dashboard.history import load_history
from inthegrid.domain.batch_codec import POSITIONS_PER_MESSAGE
from inthegrid.domain.codec import encode_event
from inthegrid.domain.economics import value_pair
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Market, Resolution
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.gateway.metrics import SSE_DISCONNECTED
from inthegrid.platform.bus import opportunity_subject, publish_all
from tests.support.gateway import (
    PUBLISHED,
    RING_SIZE,
    T0,
    Gateway,
    clients_at_least,
    prices_for,
    publish_prices,
    single_price_ids,
    sse_clients,
    wait_until,
)
from tests.support.servers import EmbeddedPostgres


def opened(buy: float, sell: float, start: datetime = T0) -> OpportunityEvent:
    rule = proof_of_concept_rule()
    value = value_pair(rule.pairs[("DE-LU", "FR")], buy, sell, 0.25)
    return OpportunityEvent(
        EventKind.OPENED,
        rule.name,
        Market.DAY_AHEAD,
        ("DE-LU", "FR"),
        start,
        Resolution.PT15M,
        1,
        value,
        datetime.now(UTC),
    )


async def sse_events(
    gw: Gateway, path: str, n: int, last_event_id: int | None = None, timeout: float = 20.0
) -> list[tuple[int, str, dict]]:
    """Read ``n`` events from one connection."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    events: list[tuple[int, str, dict]] = []
    async with asyncio.timeout(timeout), gw.http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "id" in fields:
                    events.append((int(fields["id"]), fields["event"], orjson.loads(fields["data"])))
                    if len(events) == n:
                        return events
                fields = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value
    return events


async def follow(gw: Gateway, path: str, total: int, timeout: float = 60.0) -> list[int]:
    """Like a browser's EventSource: reconnect with Last-Event-ID whenever the server ends the stream."""
    seen: list[int] = []
    async with asyncio.timeout(timeout):
        while len(seen) < total:
            last = seen[-1] if seen else None
            seen += [e[0] for e in await sse_events(gw, path, total - len(seen), last, timeout)]
    return seen


async def test_live_prices_spreads_and_opportunities_come_from_the_bus(gateway: Gateway) -> None:
    gw = gateway
    await publish_prices(gw.bus, [*prices_for("DE", 0, 2), *prices_for("FR", 0, 1)])
    kv = await gw.bus.js.key_value("INTHEGRID_RULES")
    spec = {"zones": ["DE-LU", "FR", "NL", "BE", "AT"], "costModel": {"flatCostEurPerMWh": 2.5}}
    await kv.put("proof-of-concept", orjson.dumps({"name": "proof-of-concept", "spec": spec}))
    event = opened(60.0, 80.0)
    await publish_all(
        gw.bus, [(opportunity_subject(event.rule, event.pair), encode_event(event), event.message_id)]
    )

    async def all_live() -> bool:
        prices = (await gw.http.get("/api/prices/latest")).json()
        opps = (await gw.http.get("/api/spreads/opportunities")).json()
        spreads = (await gw.http.get("/api/spreads/latest")).json()
        return prices["count"] == 2 and opps["count"] == 1 and spreads["count"] == 10

    await wait_until(all_live, what="prices, opportunity and rule in the live state")
    prices = {p["zone"]: p for p in (await gw.http.get("/api/prices/latest")).json()["prices"]}
    assert prices["DE-LU"]["delivery_start"] == "2026-01-15T10:15:00Z" and prices["DE-LU"]["price"] == 41.0
    assert prices["FR"]["price"] == 40.0
    (opp,) = (await gw.http.get("/api/spreads/opportunities")).json()["opportunities"]
    assert (opp["market_pair"], opp["net_opportunity"], opp["low_market"]) == ("DE-LU-FR", 17.5, "DE-LU")
    de_fr = next(
        r for r in (await gw.http.get("/api/spreads/latest")).json()["data"] if r["pair"] == ["DE-LU", "FR"]
    )
    # Aligned on the newest period both zones have (10:00), not DE-LU's newer 10:15.
    assert de_fr["delivery_start"] == "2026-01-15T10:00:00Z" and de_fr["net_eur_mwh"] == -2.5
    await kv.delete("proof-of-concept")

    async def rule_gone() -> bool:
        return (await gw.http.get("/api/spreads/latest")).json()["count"] == 0

    await wait_until(rule_gone, what="rule removal")


@pytest.mark.both_storages
async def test_history_from_the_database_with_filters_paging_and_csv(gateway: Gateway) -> None:
    gw = gateway
    conn = await asyncpg.connect(gw.settings.database_url.get_secret_value())
    try:
        await conn.executemany(
            "INSERT INTO prices (zone, market, resolution_minutes, delivery_start, price_eur_mwh, source, published_at)"
            " VALUES ($1, 'day_ahead', 15, $2, $3, 'test', $4)",
            [(p.zone, p.delivery_start, p.eur_mwh, p.published_at) for p in prices_for("DE", 0, 8)],
        )
        await conn.execute(
            "INSERT INTO opportunities (rule, pair_a, pair_b, market, delivery_start, status, revision, buy_zone,"
            " sell_zone, buy_price, sell_price, spread, net_eur_mwh, cost_eur_mwh, loss_factor, path, capacity_mw,"
            " profit_eur, period_hours, coupled, resolution_minutes, first_detected_at, detected_at, strategy)"
            " VALUES ('proof-of-concept', 'DE-LU', 'FR', 'day_ahead', $1, 'closed', 3, 'DE-LU', 'FR', 60, 80, 20,"
            " 17.5, 2.5, 0, ARRAY['DE-LU','FR'], 1, 4.38, 0.25, false, 15, $2, $2, 'Buy in DE-LU at €60.00, sell')",
            T0,
            T0 - timedelta(hours=1),
        )
    finally:
        await conn.close()
    body = (await gw.http.get("/api/prices/history/DE", params={"limit": 3})).json()
    assert body["status"] == "success" and body["market"] == "DE-LU" and body["count"] == 3
    assert [p["delivery_start"] for p in body["prices"]] == [
        "2026-01-15T11:45:00Z",
        "2026-01-15T11:30:00Z",
        "2026-01-15T11:15:00Z",
    ]
    assert body["prices"][0]["price"] == 47.0 and body["prices"][0]["delivery_end"] == "2026-01-15T12:00:00Z"
    page2 = (await gw.http.get("/api/prices/history/DE-LU", params={"limit": 3, "offset": 3})).json()
    assert page2["prices"][0]["delivery_start"] == "2026-01-15T11:00:00Z"
    window = (
        await gw.http.get(
            "/api/prices/history/DE", params={"from": "2026-01-15T10:15:00Z", "to": "2026-01-15T10:45:00Z"}
        )
    ).json()
    assert [p["price"] for p in window["prices"]] == [42.0, 41.0]
    csv_text = (await gw.http.get("/api/prices/history/DE", params={"limit": 2, "format": "csv"})).text
    assert csv_text.splitlines()[0].startswith("zone,market_type,resolution,delivery_start")
    assert csv_text.splitlines()[1].startswith("DE-LU,day_ahead,PT15M,2026-01-15T11:45:00Z")

    opps = (
        await gw.http.get("/api/opportunities/history", params={"pair": "DE-FR", "rule": "proof-of-concept"})
    ).json()
    (row,) = opps["data"]
    assert row["status"] == "closed" and row["net_opportunity"] == 17.5 and row["path"] == ["DE-LU", "FR"]
    assert row["id"] == "proof-of-concept/DE-LU/FR/day_ahead/20260115T1000Z" and row["revision"] == 3
    assert (await gw.http.get("/api/opportunities/history", params={"status": "open"})).json()["count"] == 0
    csv_opps = (await gw.http.get("/api/opportunities/history", params={"format": "csv"})).text
    assert "DE-LU/FR" in csv_opps and "DE-LU>FR" in csv_opps


async def test_history_answers_503_when_the_database_goes_away(
    gateway: Gateway, postgres: EmbeddedPostgres
) -> None:
    gw = gateway
    assert (await gw.http.get("/api/prices/history/FR")).status_code == 200
    name = gw.settings.database_url.get_secret_value().rsplit("/", 1)[1]
    conn = await asyncpg.connect(postgres.url())
    try:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    response = await gw.http.get("/api/prices/history/FR")
    assert response.status_code == 503 and response.json()["detail"].startswith("database unavailable")
    assert "Traceback" not in response.text
    assert (await gw.http.get("/api/zones")).status_code == 200  # live and reference answers keep working


async def test_sse_streams_live_events_with_filters(gateway: Gateway) -> None:
    gw = gateway
    baseline = sse_clients()
    reader = asyncio.create_task(sse_events(gw, "/api/stream/prices?zone=FR", 3))
    opp_reader = asyncio.create_task(sse_events(gw, "/api/stream/opportunities?pair=DE-LU/FR", 1))
    await wait_until(clients_at_least(baseline + 2), what="two SSE clients")
    await publish_prices(gw.bus, [*prices_for("DE", 0, 3), *prices_for("FR", 0, 3)])
    event = opened(50.0, 90.0)
    await publish_all(
        gw.bus, [(opportunity_subject(event.rule, event.pair), encode_event(event), event.message_id)]
    )
    got = await reader
    assert [e[2]["zone"] for e in got] == ["FR"] * 3 and all(e[1] == "price" for e in got)
    assert [e[0] for e in got] == sorted(e[0] for e in got)
    ((seq, kind, data),) = await opp_reader
    assert kind == "opportunity" and data["sequence"] == seq and data["net_opportunity"] == 37.5


@pytest.mark.parametrize("missed", [5, 3 * RING_SIZE], ids=["from-ring", "from-stream"])
async def test_reconnecting_with_last_event_id_misses_nothing(gateway: Gateway, missed: int) -> None:
    gw = gateway
    await publish_prices(gw.bus, prices_for("NL", 0, 1))  # something to see at first

    async def first_price_held() -> bool:
        return (await gw.http.get("/api/prices/latest")).json()["count"] == 1

    # Held before the reader connects, so it is not the reader's first live event (it was, at times,
    # which shifted the four events read and made the resume start one price early).
    await wait_until(first_price_held, what="the first price in the live state")
    baseline = sse_clients()
    first_reader = asyncio.create_task(sse_events(gw, "/api/stream/prices", 4))
    await wait_until(clients_at_least(baseline + 1), what="SSE client")
    await publish_prices(gw.bus, prices_for("NL", 1, 4))
    first = await first_reader
    last_id = first[-1][0]
    await publish_prices(gw.bus, prices_for("NL", 5, missed))  # published while disconnected
    resumed = await sse_events(gw, "/api/stream/prices", missed, last_event_id=last_id)
    assert [e[0] for e in resumed] == single_price_ids(last_id // POSITIONS_PER_MESSAGE + 1, missed)
    assert [e[2]["delivery_start"] for e in resumed][-1] == (
        T0 + timedelta(minutes=15 * (4 + missed))
    ).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_reader_that_falls_behind_is_ended_and_resumes_without_loss(gateway: Gateway) -> None:
    gw = gateway
    lagging_before = SSE_DISCONNECTED.labels("prices", "lagging")._value.get()
    total, burst = 3000, 300  # bursts larger than the 64-event queue
    baseline = sse_clients()
    reader = asyncio.create_task(follow(gw, "/api/stream/prices", total))
    await wait_until(clients_at_least(baseline + 1), what="an SSE client")
    start = (await gw.bus.js.stream_info("PRICES")).state.last_seq
    for batch in range(total // burst):
        await publish_prices(gw.bus, prices_for("BE", batch * burst, burst))
    assert await reader == single_price_ids(start + 1, total)
    assert SSE_DISCONNECTED.labels("prices", "lagging")._value.get() > lagging_before


# A queue large enough for every burst: only a client that stops reading can fill it.
@pytest.mark.parametrize("gateway", [{"sse_queue_size": 1024}], indirect=True)
async def test_a_client_that_stops_reading_never_holds_up_another(gateway: Gateway) -> None:
    """Through real sockets: a connection that never reads does not slow or thin out another's stream,
    and is gone once it closes. Whether it is cut off as hopeless depends on when this machine's
    socket buffers fill, so that is tested on a blocked ASGI send with a controlled clock
    (tests/unit/gateway/stream/test_sse_response.py), not here."""
    gw = gateway
    port = int(gw.url.rsplit(":", 1)[1])
    baseline = sse_clients()
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", port))
    stalled.sendall(b"GET /api/stream/prices HTTP/1.1\r\nHost: test\r\n\r\n")  # and never read again
    try:
        total, burst = 6_000, 50
        healthy = asyncio.create_task(follow(gw, "/api/stream/prices", total, timeout=180))
        await wait_until(clients_at_least(baseline + 2), what="two SSE clients")
        start = (await gw.bus.js.stream_info("PRICES")).state.last_seq
        for batch in range(total // burst):
            await publish_prices(gw.bus, prices_for("BE", batch * burst, burst))
            await asyncio.sleep(0.01)
        received = await healthy
        assert received == single_price_ids(start + 1, total)  # every event, in order, none twice
    finally:
        stalled.close()

    async def all_gone() -> bool:
        return sse_clients() <= baseline

    await wait_until(all_gone, what="the stalled client to be gone once its socket closed")


DAY0 = datetime(2026, 1, 14, tzinfo=UTC)
QUARTERS = 3 * 96  # three UTC days of 15-minute periods


def _price(zone: str, i: int) -> Decimal:
    return Decimal(40 + i % 7) if zone == "DE-LU" else Decimal(55 + i % 5) + Decimal("0.25")


def _mean(values: list[Decimal]) -> float:
    return round(float(sum(values) / len(values)), 4)


@pytest.mark.both_storages
async def test_long_range_history_is_the_same_on_both_storages(gateway: Gateway, storage: str) -> None:
    """Hourly/daily prices, daily border figures and the latest stored period per zone: computed
    here from the inserted rows, and answered identically by continuous aggregates (TimescaleDB,
    partly materialized, partly real-time) and by plain PostgreSQL aggregating the raw tables."""
    url = gateway.settings.database_url.get_secret_value()
    valued = list(range(0, QUARTERS, 3))  # every third period had a valued opportunity
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            "INSERT INTO prices (zone, market, resolution_minutes, delivery_start, price_eur_mwh, source,"
            " published_at) VALUES ($1, 'day_ahead', 15, $2, $3, 'test', $4)",
            [
                (zone, DAY0 + timedelta(minutes=15 * i), _price(zone, i), PUBLISHED)
                for zone in ("DE-LU", "FR")
                for i in range(QUARTERS)
            ],
        )
        await conn.executemany(
            "INSERT INTO opportunities (rule, pair_a, pair_b, market, delivery_start, status, revision,"
            " buy_zone, sell_zone, spread, net_eur_mwh, capacity_mw, profit_eur, period_hours, coupled,"
            " resolution_minutes, first_detected_at, detected_at)"
            " VALUES ('r', 'DE-LU', 'FR', 'day_ahead', $1, 'closed', 1, 'DE-LU', 'FR', $2, $3, 100, $4,"
            " 0.25, $5, 15, $6, $6)",
            [
                (
                    DAY0 + timedelta(minutes=15 * i),
                    _price("FR", i) - _price("DE-LU", i),
                    _price("FR", i) - _price("DE-LU", i) - 1,
                    (_price("FR", i) - _price("DE-LU", i) - 1) * 25,
                    i % 2 == 0,
                    PUBLISHED,
                )
                for i in valued
            ],
        )
        if storage == "timescaledb":
            # Materialize the first day only: the answer must combine stored and real-time buckets.
            for view in ("prices_hourly", "prices_daily", "border_daily"):
                await conn.execute(
                    f"CALL refresh_continuous_aggregate('{view}', $1::timestamptz, $2::timestamptz)",
                    DAY0,
                    DAY0 + timedelta(days=1),
                )
            assert (
                await conn.fetchval("SELECT count(*) FROM _timescaledb_catalog.continuous_aggs_watermark") > 0
            )
    finally:
        await conn.close()

    days = (await gateway.http.get("/api/history/prices/DE", params={"bucket": "day"})).json()
    assert days["market"] == "DE-LU" and days["count"] == 3
    first_day = [_price("DE-LU", i) for i in range(96)]
    assert days["buckets"][-1] == {
        "zone": "DE-LU",
        "bucket_start": "2026-01-14T00:00:00Z",
        "bucket_end": "2026-01-15T00:00:00Z",
        "avg_price": _mean(first_day),
        "min_price": 40.0,
        "max_price": 46.0,
        "periods": 96,
    }
    hours = (
        await gateway.http.get(
            "/api/history/prices/FR",
            params={"bucket": "hour", "from": "2026-01-14T23:00:00Z", "to": "2026-01-15T02:00:00Z"},
        )
    ).json()
    assert [b["bucket_start"] for b in hours["buckets"]] == [
        "2026-01-15T01:00:00Z",
        "2026-01-15T00:00:00Z",
        "2026-01-14T23:00:00Z",
    ]
    assert [b["avg_price"] for b in hours["buckets"]] == [
        _mean([_price("FR", i) for i in range(h * 4, h * 4 + 4)]) for h in (25, 24, 23)
    ]

    border = (await gateway.http.get("/api/history/borders", params={"pair": "DE-FR"})).json()
    assert border["pair"] == ["DE-LU", "FR"] and border["count"] == 3
    for day in border["days"]:
        d = (datetime.fromisoformat(day["day"]) - DAY0).days
        quarters = range(d * 96, d * 96 + 96)
        mine = [i for i in valued if i in quarters]
        spreads = [_price("FR", i) - _price("DE-LU", i) for i in mine]
        mean_a = _mean([_price("DE-LU", i) for i in quarters])
        mean_b = _mean([_price("FR", i) for i in quarters])
        assert day["avg_price_a"] == mean_a and day["avg_price_b"] == mean_b
        assert day["avg_price_spread"] == round(mean_b - mean_a, 4)
        assert day["valued_periods"] == len(mine)
        assert day["avg_spread"] == _mean(spreads) and day["max_spread"] == float(max(spreads))
        assert day["max_net"] == float(max(spreads) - 1)
        assert day["profit_eur"] == float(sum((s - 1) * 25 for s in spreads))
        coupled = [s for i, s in zip(mine, spreads, strict=True) if i % 2 == 0]
        assert day["congestion_value_eur"] == float(sum(s * 100 * Decimal("0.25") for s in coupled))
    missing_pair = await gateway.http.get("/api/history/borders")
    assert missing_pair.status_code == 422

    # The dashboard's history tab reads daily means from the same endpoint.
    figure, _, _, note = await load_history(
        GatewayClient(gateway.url), "2026-01-14T00:00:00Z", "2026-01-17T00:00:00Z", ["FR"], "daily", ""
    )
    assert list(figure.data[0].y) == [
        _mean([_price("FR", i) for i in range(d * 96, d * 96 + 96)]) for d in range(3)
    ]
    assert note.startswith("3 prices in 1 zones")

    latest = (await gateway.http.get("/api/history/latest")).json()
    assert {p["zone"]: (p["delivery_start"], p["price"]) for p in latest["prices"]} == {
        "DE-LU": ("2026-01-16T23:45:00Z", float(_price("DE-LU", QUARTERS - 1))),
        "FR": ("2026-01-16T23:45:00Z", float(_price("FR", QUARTERS - 1))),
    }
