"""The pipeline end to end on real servers: prices on the bus -> calculator -> events -> recorder ->
PostgreSQL (and the gateway), including crashes (SIGKILL) and malformed messages."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import nats
import pytest

from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.codec import encode_price
from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.domain.prices import Price, make_price
from inthegrid.domain.rules import PROOF_OF_CONCEPT_ZONES, proof_of_concept_rule
from inthegrid.platform.bus import OPPORTUNITIES_STREAM, Bus, connect_bus, price_subject, publish_all
from inthegrid.platform.settings import CommonSettings
from tests.support.faults import Monitor
from tests.support.polling import wait_until_async
from tests.support.processes import ServiceProcess

# The whole pipeline writes to both storages: plain PostgreSQL and TimescaleDB hypertables.
pytestmark = pytest.mark.both_storages

RULE = "proof-of-concept"
T0 = datetime(2026, 1, 5, tzinfo=UTC)


async def _bus(url: str) -> Bus:
    return await connect_bus(CommonSettings(nats_url=url), "test")


async def _publish(bus: Bus, prices: list[Price]) -> None:
    await publish_all(
        bus, [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices]
    )


def _services(tmp: Path, nats_url: str, database_url: str) -> dict[str, ServiceProcess]:
    return {
        "calculator": ServiceProcess(
            ["calculator"],
            {"INTHEGRID_NATS_URL": nats_url, "INTHEGRID_RULE_NAME": RULE},
            tmp / "calculator.log",
        ),
        "recorder": ServiceProcess(
            ["recorder"],
            {"INTHEGRID_NATS_URL": nats_url, "INTHEGRID_DATABASE_URL": database_url},
            tmp / "recorder.log",
        ),
    }


async def test_price_reaches_calculator_database_and_rest_api(nats_url, database_url, tmp_path):
    procs = _services(tmp_path, nats_url, database_url)
    for p in procs.values():
        p.start()
    gateway = None
    try:
        bus = await _bus(nats_url)
        await _publish(
            bus, [make_price("DE", T0, 60.0, source="test"), make_price("FR", T0, 80.0, source="test")]
        )
        conn = await asyncpg.connect(database_url)

        async def opportunity():
            return await conn.fetchrow("SELECT * FROM opportunities WHERE pair_a='DE-LU' AND pair_b='FR'")

        row = await wait_until_async(opportunity, what="the DE-LU/FR opportunity in PostgreSQL")
        assert (row["status"], float(row["net_eur_mwh"]), float(row["spread"])) == ("open", 17.5, 20.0)
        assert row["strategy"] == "Buy in DE-LU at €60.00, sell in FR at €80.00"
        assert await conn.fetchval("SELECT count(*) FROM prices") == 2

        import httpx

        from inthegrid.local.embedded import free_port

        port = free_port()
        gateway = ServiceProcess(
            ["gateway"],
            {
                "INTHEGRID_NATS_URL": nats_url,
                "INTHEGRID_DATABASE_URL": database_url,
                "INTHEGRID_HTTP_PORT": str(port),
                "INTHEGRID_DASHBOARD": "false",
            },
            tmp_path / "gateway.log",
            metrics_port=0,
        )
        gateway.start(wait_ready=0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            async def rest():
                try:
                    body = (await client.get("/api/spreads/opportunities")).json()
                except httpx.HTTPError:
                    return None
                return body if body.get("opportunities") else None

            body = await wait_until_async(rest, what="the opportunity at the REST API")
            opp = body["opportunities"][0]
            assert (opp["market_pair"], opp["net_opportunity"], opp["spread"]) == ("DE-LU-FR", 17.5, 20.0)
            assert opp["strategy"] == "Buy in DE-LU at €60.00, sell in FR at €80.00"
            history = (await client.get("/api/opportunities/history", params={"pair": "DE-FR"})).json()
            assert history["count"] == 1
        await conn.close()
        await bus.close()
    finally:
        if gateway is not None:
            gateway.terminate()
        for p in procs.values():
            p.terminate()


def _scenario(periods: int, seed: int) -> list[Price]:
    """Prices for five zones over `periods` hours, then corrections: opens, updates and closes."""
    rng = random.Random(seed)
    prices = []
    bases = []
    for k in range(periods):
        start = T0 + timedelta(hours=k)
        base = round(rng.uniform(20, 120), 2)
        bases.append(base)
        for zone in PROOF_OF_CONCEPT_ZONES:
            value = base if rng.random() < 0.4 else base + rng.uniform(-15, 15)
            prices.append(make_price(zone, start, round(value, 2), source="test", published_at=T0))
    later = T0 + timedelta(minutes=5)
    for k in range(0, periods, 3):  # corrections: every third period converges (closes), others widen
        start = T0 + timedelta(hours=k)
        if k % 2 == 0:
            prices.extend(
                make_price(z, start, bases[k], source="test", published_at=later)
                for z in PROOF_OF_CONCEPT_ZONES
            )
        else:
            zone = rng.choice(PROOF_OF_CONCEPT_ZONES)
            prices.append(make_price(zone, start, round(bases[k] + 40, 2), source="test", published_at=later))
    return prices


def _expected(prices: list[Price]) -> dict[tuple[str, str, datetime], tuple[str, float]]:
    state = CalculatorState(proof_of_concept_rule())
    final: dict[tuple[str, str, datetime], tuple[str, float]] = {}
    for price in prices:
        for event in state.on_price(price, T0):
            key = (event.pair[0], event.pair[1], event.delivery_start)
            final[key] = (
                ("closed", 0.0) if event.kind.value == "closed" else ("open", event.value.net_eur_mwh)
            )
    return final


async def test_sigkill_of_calculator_and_recorder_loses_nothing_and_duplicates_nothing(
    nats_url, database_url, tmp_path
):
    prices = _scenario(periods=60, seed=11)
    expected = _expected(prices)
    assert any(v[0] == "closed" for v in expected.values()), "the scenario must exercise closes"
    procs = _services(tmp_path, nats_url, database_url)
    for p in procs.values():
        p.start()
    bus = await _bus(nats_url)
    conn = await asyncpg.connect(database_url)
    try:
        chunks = [prices[i : i + 20] for i in range(0, len(prices), 20)]
        for i, chunk in enumerate(chunks):
            await _publish(bus, chunk)
            await asyncio.sleep(0.05)
            if i == len(chunks) // 3:
                procs["calculator"].kill()
            if i == len(chunks) // 2:
                procs["recorder"].kill()
                procs["calculator"].start()
            if i == 2 * len(chunks) // 3:
                procs["recorder"].start()
        await _publish(bus, prices[:40])  # a feed restarting re-publishes: JetStream drops the duplicates

        async def settled():
            rows = await conn.fetch(
                "SELECT pair_a, pair_b, delivery_start, status, net_eur_mwh FROM opportunities"
            )
            got = {
                (r["pair_a"], r["pair_b"], r["delivery_start"]): (
                    r["status"],
                    float(r["net_eur_mwh"]) if r["status"] == "open" else 0.0,
                )
                for r in rows
            }
            return got if got == expected else None

        await wait_until_async(settled, timeout=60, what="every opportunity stored once with its final state")
        # Each price once, with its latest correction. Waited for, not read once: the recorder catches up
        # on prices and on events through separate consumers, so the opportunities above can be settled
        # while corrections (which add no row, so a count cannot tell) are still on their way.
        latest = {(p.zone, p.delivery_start): p.eur_mwh for p in prices}

        async def all_prices():
            rows = await conn.fetch("SELECT zone, delivery_start, price_eur_mwh FROM prices")
            stored = {(r["zone"], r["delivery_start"]): float(r["price_eur_mwh"]) for r in rows}
            return len(rows) == len(latest) and stored == latest

        await wait_until_async(all_prices, what="every price stored once with its latest correction")
        duplicated = await conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM opportunity_events GROUP BY rule, pair_a, pair_b, delivery_start,"
            " revision HAVING count(*) > 1) d"
        )
        assert duplicated == 0
        # The stream itself holds each event once: the restarted calculator re-derives only what its
        # restored book lacks, so batches split otherwise than before the kill repeat no event (the
        # unique key above would hide a repeat from the table).
        monitor = await Monitor.connect(nats_url)
        try:
            stored = await monitor.stored(OPPORTUNITIES_STREAM)
        finally:
            await monitor.close()
        ids = [e.message_id for data in stored for _, e in decode_events(data).events]
        assert ids and len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} events stored twice"
    finally:
        await conn.close()
        await bus.close()
        for p in procs.values():
            p.terminate()


async def test_malformed_message_is_rejected_counted_and_kept(nats_url, database_url, tmp_path):
    calculator = _services(tmp_path, nats_url, database_url)["calculator"].start()
    bus = await _bus(nats_url)
    try:
        await bus.js.publish(
            price_subject("day_ahead", "DE-LU"), b'{"schema": "inthegrid.price.v1", "zone": "XX"}'
        )
        await bus.js.publish(price_subject("day_ahead", "FR"), b"\x00not json")
        await _publish(
            bus, [make_price("DE", T0, 60.0, source="test"), make_price("FR", T0, 80.0, source="test")]
        )

        async def counted():
            return calculator.metric_value(
                "inthegrid_bus_messages_rejected_total", stream="PRICES"
            ) == 2 and (
                calculator.metric_value("inthegrid_calculator_events_published_total", kind="opened") == 1
            )

        await wait_until_async(counted, what="two rejections and the opportunity after them")
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        sub = await js.pull_subscribe("inthegrid.deadletter.>", stream="DEADLETTER")
        kept = await sub.fetch(2, timeout=5)
        reasons = sorted(m.headers["InTheGrid-Reason"] for m in kept)
        assert any("is missing" in r for r in reasons)
        assert any("not JSON" in r for r in reasons)
        assert {m.data for m in kept} == {b'{"schema": "inthegrid.price.v1", "zone": "XX"}', b"\x00not json"}
        await nc.close()
    finally:
        await bus.close()
        calculator.terminate()


@pytest.mark.parametrize("signal_name", ["SIGTERM"])
async def test_graceful_stop_exits_cleanly(nats_url, database_url, tmp_path, signal_name):
    procs = _services(tmp_path, nats_url, database_url)
    for p in procs.values():
        p.start()
    for name, p in procs.items():
        assert p.terminate(timeout=30) == 0, f"{name} did not exit cleanly:\n{p.log_tail()}"
