"""Price batches (bus contract v2) on real servers: a re-published batch is stored once, a batch
re-sent under other ids is recorded idempotently, one bad item is dead-lettered alone while the
rest of its batch is stored and valued, and the v1 single-price form is still consumed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import nats
import orjson
import pytest

from inthegrid.domain.batch_codec import encode_price_batch, group_price_batches
from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import Price, make_price
from inthegrid.platform.bus import DEADLETTER_STREAM, PRICES_STREAM, Bus, price_subject, publish_each
from inthegrid.platform.price_messages import batched_price_messages, price_messages
from inthegrid.recorder.service import PRICES_DURABLE
from tests.integration.test_recorder import _consumer_idle, bus, recorder, wait_for_rows, wait_until
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.both_storages
__all__ = ["bus"]  # the fixture, imported so that pytest finds it here

ZONES = ("DE-LU", "FR", "NL")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PUBLISHED = datetime(2025, 12, 31, 12, tzinfo=UTC)


def build_prices(periods: int, zones: tuple[str, ...] = ZONES) -> list[Price]:
    return [
        make_price(
            zone,
            T0 + timedelta(minutes=15 * k),
            round(40 + 3 * i + (k % 96) / 4, 2),
            resolution="PT15M",
            source="test",
            published_at=PUBLISHED,
        )
        for k in range(periods)
        for i, zone in enumerate(zones)
    ]


async def fetch_prices(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch("SELECT zone, delivery_start, price_eur_mwh, stream_seq FROM prices")
    finally:
        await conn.close()


async def test_a_republished_batch_is_stored_once_and_a_redelivery_writes_nothing_twice(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    prices = build_prices(700)  # 2,100 prices: per zone, one batch of 500 and one of 200
    messages = batched_price_messages(prices)
    assert (
        len(messages) == 6
        and [m[0].rsplit(".", 1)[1] for m in messages] == ["DE-LU"] * 2 + ["FR"] * 2 + ["NL"] * 2
    )
    assert await publish_each(bus, messages) == [False] * 6
    assert await publish_each(bus, messages) == [True] * 6  # same ids: JetStream drops every one
    assert (await bus.js.stream_info(PRICES_STREAM)).state.messages == 6
    async with recorder(nats_url, database_url, batch=1000):
        await wait_for_rows(database_url, "prices", len(prices))
        await wait_until(lambda: _consumer_idle(bus, PRICES_DURABLE), what="every message acked")
        # The same prices again in other batches (other ids, as after a restart that re-chunks):
        # stored by JetStream, but the recorder's natural keys make the rows the same.
        again = price_messages(group_price_batches(prices, max_items=7))
        assert not any(await publish_each(bus, again))
        await wait_until(lambda: _consumer_idle(bus, PRICES_DURABLE), what="the second copy acked")
    rows = await fetch_prices(database_url)
    assert len(rows) == len(prices)
    by_key = {(r["zone"], r["delivery_start"]): r for r in rows}
    for p in prices:
        row = by_key[(p.zone, p.delivery_start)]
        assert float(row["price_eur_mwh"]) == pytest.approx(p.eur_mwh)
        assert row["stream_seq"] <= len(messages)  # the first delivery's row, untouched by the second


async def test_one_bad_item_is_dead_lettered_alone_and_the_rest_of_its_batch_is_stored(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    prices = build_prices(10, ("FR",))
    doc = orjson.loads(encode_price_batch(prices))
    doc["items"][3][1] = 99_999.0  # beyond the price limits
    subject = price_subject("day_ahead", "FR")
    async with recorder(nats_url, database_url):
        await bus.js.publish(subject, orjson.dumps(doc), headers={"Nats-Msg-Id": "bad-item-batch"})
        await wait_for_rows(database_url, "prices", 9)
        await wait_until(lambda: _consumer_idle(bus, PRICES_DURABLE), what="the batch acked")
    stored = {r["delivery_start"] for r in await fetch_prices(database_url)}
    assert stored == {p.delivery_start for i, p in enumerate(prices) if i != 3}
    info = await bus.js.stream_info(DEADLETTER_STREAM)
    assert info.state.messages == 1
    kept = await bus.js.get_msg(DEADLETTER_STREAM, seq=1)
    assert kept.headers is not None
    assert kept.headers["InTheGrid-Original-Item"] == "3"
    assert (
        kept.headers["InTheGrid-Reason"].startswith("item 3: ")
        and "99999" in kept.headers["InTheGrid-Reason"]
    )
    assert kept.headers["Nats-Msg-Id"] == "dlq:PRICES:1:3"
    assert orjson.loads(kept.data)["items"] == [doc["items"][3]]


async def test_the_old_single_price_form_is_still_recorded_beside_batches(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    old = build_prices(4, ("NL",))
    new = build_prices(4, ("BE",))
    singles = [(price_subject("day_ahead", p.zone), encode_price(p), p.message_id) for p in old]
    async with recorder(nats_url, database_url):
        await publish_each(bus, [*singles, *batched_price_messages(new)])
        await wait_for_rows(database_url, "prices", len(old) + len(new))
    assert {(r["zone"], r["delivery_start"]) for r in await fetch_prices(database_url)} == {
        (p.zone, p.delivery_start) for p in [*old, *new]
    }


async def test_the_calculator_values_the_good_items_of_a_batch_with_a_bad_one(
    bus: Bus, nats_url: str, tmp_path: Path
) -> None:
    calculator = ServiceProcess(
        ["calculator"],
        {"INTHEGRID_NATS_URL": nats_url, "INTHEGRID_RULE_NAME": "proof-of-concept"},
        tmp_path / "calculator.log",
    ).start()
    try:
        de = [make_price("DE-LU", T0 + timedelta(hours=h), 60.0, source="test") for h in range(3)]
        doc = orjson.loads(encode_price_batch(de))
        doc["items"][1][0] = "2026-01-01T01:07:00Z"  # not aligned to an hour: refused alone
        await bus.js.publish(price_subject("day_ahead", "DE-LU"), orjson.dumps(doc))
        # FR in the old single form, 20 EUR/MWh above DE-LU in hours 0 and 2: two opportunities.
        fr = [make_price("FR", T0 + timedelta(hours=h), 80.0, source="test") for h in range(3)]
        await publish_each(
            bus, [(price_subject("day_ahead", p.zone), encode_price(p), p.message_id) for p in fr]
        )

        async def settled() -> bool:
            return (
                calculator.metric_value("inthegrid_bus_messages_rejected_total", stream="PRICES") == 1
                and calculator.metric_value("inthegrid_calculator_events_published_total", kind="opened") == 2
                and calculator.metric_value("inthegrid_calculator_prices_processed_total") == 5
            )

        await wait_until(settled, 60, "one rejection, two opportunities and five prices valued")
        nc = await nats.connect(nats_url)
        try:
            sub = await nc.jetstream().pull_subscribe("inthegrid.deadletter.>", stream=DEADLETTER_STREAM)
            (kept,) = await sub.fetch(1, timeout=5)
            assert kept.headers is not None and kept.headers["InTheGrid-Reason"].startswith("item 1: ")
            assert "aligned" in kept.headers["InTheGrid-Reason"]
        finally:
            await nc.close()
    finally:
        calculator.terminate()
