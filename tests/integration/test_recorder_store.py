"""The recorder's writes against a real PostgreSQL (plain and TimescaleDB): ``store.write_events``
stores every event once, through redeliveries and revisions arriving late, and merges each opportunity
to the same row whatever order its batches commit in."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.platform.db import run_migrations
from inthegrid.recorder.rows import build_event_row
from inthegrid.recorder.store import write_events
from tests.support.events import de_fr_event

pytestmark = pytest.mark.both_storages

T0 = datetime(2026, 2, 1, 10, tzinfo=UTC)


def event(revision: int, sell: float | None, *, hour: int = 0, minute: int = 0) -> OpportunityEvent:
    kind = EventKind.CLOSED if sell is None else EventKind.OPENED if revision == 1 else EventKind.UPDATED
    detected = T0 - timedelta(hours=10) + timedelta(minutes=minute)
    return de_fr_event(kind, revision, sell, start=T0 + timedelta(hours=hour), detected_at=detected)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        await run_migrations(pool)
        async with pool.acquire() as connection:
            yield connection
    finally:
        await pool.close()


async def write(conn: asyncpg.Connection, *events: OpportunityEvent) -> dict[str, int]:
    return await write_events(conn, [build_event_row(e, i) for i, e in enumerate(events)])


async def opportunity(conn: asyncpg.Connection, hour: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM opportunities WHERE delivery_start = $1", T0 + timedelta(hours=hour)
    )
    assert row is not None
    return row


async def test_new_events_redeliveries_and_late_revisions_store_each_event_once(
    conn: asyncpg.Connection,
) -> None:
    assert await write(conn, event(1, 80.0, minute=0), event(2, 90.0, minute=1), event(1, 70.0, hour=1)) == {
        "opportunity_events": 3,
        "opportunities": 2,
    }
    row = await opportunity(conn, 0)
    assert (row["status"], row["revision"], float(row["sell_price"])) == ("open", 2, 90.0)
    assert row["first_detected_at"] == event(1, 80.0, minute=0).detected_at

    # A redelivered event beside new ones.
    counts = await write(
        conn, event(2, 90.0, minute=1), event(3, None, minute=2), event(2, 75.0, hour=1, minute=6)
    )
    assert counts == {"opportunity_events": 2, "opportunities": 2}
    row = await opportunity(conn, 0)
    # Closed without a value: the values of revision 2 stay, the first detection too.
    assert (row["status"], row["revision"], float(row["sell_price"])) == ("closed", 3, 90.0)
    assert row["first_detected_at"] == event(1, 80.0, minute=0).detected_at
    assert row["detected_at"] == event(3, None, minute=2).detected_at
    assert (await opportunity(conn, 1))["revision"] == 2

    # A revision older than the stored one, not stored before (it arrived late): kept as an event,
    # the opportunity does not move back. Then the same batch again changes nothing at all.
    late = (event(1, 70.0, hour=2, minute=9), event(2, 72.0, hour=2, minute=8))
    await write(conn, event(2, 80.0, hour=2, minute=7), event(3, 81.0, hour=2, minute=10))
    assert await write(conn, *late) == {"opportunity_events": 1, "opportunities": 0}
    assert await write(conn, *late) == {"opportunity_events": 0, "opportunities": 0}
    row = await opportunity(conn, 2)
    assert (row["revision"], float(row["sell_price"])) == (3, 81.0)
    assert row["first_detected_at"] == event(2, 80.0, hour=2, minute=7).detected_at

    stored = await conn.fetch(
        "SELECT delivery_start, revision, count(*) AS n FROM opportunity_events GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert [(r["delivery_start"] - T0, r["revision"], r["n"]) for r in stored] == [
        (timedelta(0), 1, 1),
        (timedelta(0), 2, 1),
        (timedelta(0), 3, 1),
        (timedelta(hours=1), 1, 1),
        (timedelta(hours=1), 2, 1),
        (timedelta(hours=2), 1, 1),
        (timedelta(hours=2), 2, 1),
        (timedelta(hours=2), 3, 1),
    ]


# Columns that describe the opportunity (updated_at is when the row last changed, not what it says).
_ROW = (
    "status, revision, sell_price, net_eur_mwh, capacity_mw, values_revision, first_detected_at, detected_at"
)


async def test_the_opportunity_is_the_same_whatever_order_its_batches_commit_in(
    conn: asyncpg.Connection,
) -> None:
    # The recorder writes batches concurrently, so a close (no value) may commit before the update it
    # follows. Every order of five single-event batches must give the row that one batch of all five
    # gives: the newest revision's status, the newest valued revision's values, the first detection.
    events = [
        event(1, 80.0, minute=0),
        event(2, 90.0, minute=1),
        event(3, None, minute=2),
        event(4, 85.0, minute=3),
        event(5, None, minute=4),
    ]
    orders = list(itertools.permutations(events))
    for hour, order in enumerate(orders, start=1):
        for e in order:
            await write(conn, replace(e, delivery_start=T0 + timedelta(hours=hour)))
    await write(conn, *events)
    rows = await conn.fetch(f"SELECT delivery_start, {_ROW} FROM opportunities ORDER BY delivery_start")
    whole, *ordered = rows
    assert (whole["status"], whole["revision"], float(whole["sell_price"])) == ("closed", 5, 85.0)
    assert (whole["values_revision"], whole["first_detected_at"]) == (4, events[0].detected_at)
    expected = dict(whole) | {"delivery_start": None}
    mismatched = [r["delivery_start"] - T0 for r in ordered if dict(r) | {"delivery_start": None} != expected]
    assert len(ordered) == len(orders) and not mismatched


async def test_a_row_from_before_values_revision_keeps_its_values_against_older_events(
    conn: asyncpg.Connection,
) -> None:
    # Rows written before migration 0011 have no values_revision: their values count as their
    # revision's, so an older event arriving late leaves them alone, and a newer one replaces them.
    await write(conn, event(1, 80.0), event(2, 90.0))
    await conn.execute("UPDATE opportunities SET values_revision = NULL")
    assert await write(conn, event(1, 70.0, minute=5)) == {"opportunity_events": 0, "opportunities": 0}
    assert float((await opportunity(conn, 0))["sell_price"]) == 90.0
    await write(conn, event(3, 95.0, minute=6))
    row = await opportunity(conn, 0)
    assert (row["revision"], row["values_revision"], float(row["sell_price"])) == (3, 3, 95.0)
