"""The gateway's read queries on a migrated database filled through the recorder's own writers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from inthegrid.domain.economics import PairValue
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Market, Resolution, make_price
from inthegrid.platform.db import connect_pool, run_migrations
from inthegrid.platform.queries import count_opportunities, latest_prices, opportunity_history, price_history
from inthegrid.recorder.rows import build_event_row, build_price_row
from inthegrid.recorder.store import write_events, write_prices

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await connect_pool(database_url, timeout=10)
    await run_migrations(created)
    await run_migrations(created)  # a second run applies nothing and fails nothing
    yield created
    await created.close()


async def test_latest_and_history_of_prices(pool: asyncpg.Pool) -> None:
    prices = [
        make_price(zone, T0 + timedelta(hours=h), 50 + h + i, market="day_ahead", source="t", published_at=T0)
        for h in range(6)
        for i, zone in enumerate(("FR", "NL"))
    ]
    async with pool.acquire() as conn:
        await write_prices(conn, [build_price_row(p, n) for n, p in enumerate(prices, 1)])
    latest = await latest_prices(pool, "day_ahead")
    assert [(r["zone"], r["delivery_start"], float(r["price_eur_mwh"])) for r in latest] == [
        ("FR", T0 + timedelta(hours=5), 55.0),
        ("NL", T0 + timedelta(hours=5), 56.0),
    ]
    at = await latest_prices(pool, "day_ahead", at=T0 + timedelta(hours=2))
    assert {r["delivery_start"] for r in at} == {T0 + timedelta(hours=2)}
    assert await latest_prices(pool, "intraday") == []
    history = await price_history(
        pool, "FR", "day_ahead", limit=3, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=5)
    )
    assert [r["delivery_start"] for r in history] == [T0 + timedelta(hours=h) for h in (4, 3, 2)]


async def test_opportunity_history_filters_and_pages(pool: asyncpg.Pool) -> None:
    def event(rule: str, pair: tuple[str, str], hour: int) -> OpportunityEvent:
        value = PairValue(
            pair=pair,
            buy_zone=pair[0],
            sell_zone=pair[1],
            buy_price=50.0,
            sell_price=70.0,
            net_eur_mwh=17.5,
            cost_eur_mwh=2.5,
            loss_factor=0.0,
            path=pair,
            capacity_mw=10.0,
            period_hours=1.0,
            coupled=False,
        )
        return OpportunityEvent(
            kind=EventKind.OPENED,
            rule=rule,
            market=Market.DAY_AHEAD,
            pair=pair,
            delivery_start=T0 + timedelta(hours=hour),
            resolution=Resolution.PT60M,
            revision=1,
            value=value,
            detected_at=T0,
        )

    events = [event("a", ("DE-LU", "FR"), h) for h in range(5)] + [
        event("b", ("BE", "NL"), h) for h in range(3)
    ]
    async with pool.acquire() as conn:
        await write_events(conn, [build_event_row(e, n) for n, e in enumerate(events, 1)])
    page = await opportunity_history(pool, pair=("FR", "DE-LU"), limit=2, offset=1)
    assert [(r["rule"], r["delivery_start"]) for r in page] == [
        ("a", T0 + timedelta(hours=3)),
        ("a", T0 + timedelta(hours=2)),
    ]
    assert await count_opportunities(pool, pair=("DE-LU", "FR")) == 5
    assert await count_opportunities(pool, rule="b", start=T0 + timedelta(hours=1)) == 2
    assert await count_opportunities(pool, status="closed") == 0
    rows = await opportunity_history(pool, rule="b", end=T0 + timedelta(hours=1))
    assert len(rows) == 1 and rows[0]["strategy"] == "Buy in BE at €50.00, sell in NL at €70.00"
    assert float(rows[0]["profit_eur"]) == 175.0
