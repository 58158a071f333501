"""Recorder throughput vs the ceiling: one raw asyncpg COPY of the same rows.

Starts its own nats-server and PostgreSQL (embedded), publishes N prices to JetStream first (not
timed), then times the recorder from "ready" until every row is in ``prices``, and separately a
single ``copy_records_to_table`` of the same row tuples into an empty table of the same shape.

    .venv/bin/python bench/bench_recorder.py --prices 100000 --batch 10000
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import make_price
from inthegrid.domain.zones import ZONE_CODES
from inthegrid.local.embedded import EmbeddedNats, EmbeddedPostgres
from inthegrid.platform.bus import PRICES_STREAM, connect_bus, price_subject, publish_all
from inthegrid.platform.db import run_migrations
from inthegrid.platform.metrics import HealthState
from inthegrid.platform.price_messages import batched_price_messages
from inthegrid.platform.settings import RecorderSettings
from inthegrid.recorder.rows import PRICE_COLUMNS, build_price_row
from inthegrid.recorder.service import PRICES_DURABLE, run_recorder
from inthegrid.recorder.store import write_prices


def build_prices(n: int) -> list:
    zones = ZONE_CODES[:20]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    published = t0 - timedelta(hours=12)
    return [
        make_price(
            zones[i % len(zones)],
            t0 + timedelta(minutes=15 * (i // len(zones))),
            50 + (i % 97) / 3,
            resolution="PT15M",
            source="bench",
            published_at=published,
        )
        for i in range(n)
    ]


async def raw_copy(url: str, rows: list[tuple]) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE prices_raw (LIKE prices INCLUDING ALL)")
        started = time.perf_counter()
        await conn.copy_records_to_table("prices_raw", records=rows, columns=list(PRICE_COLUMNS))
        return time.perf_counter() - started
    finally:
        await conn.close()


async def fresh_database(url: str, name: str) -> str:
    """A new, migrated database beside the bench's (``prices`` a hypertable when TimescaleDB is in)."""
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    fresh = url.rsplit("/", 1)[0] + f"/{name}"
    pool = await asyncpg.create_pool(fresh, min_size=1, max_size=1)
    try:
        await run_migrations(pool)
    finally:
        await pool.close()
    return fresh


async def raw_copy_into_prices(url: str, rows: list[tuple]) -> float:
    """One raw COPY of the rows into the recorder's own ``prices`` table, freshly migrated: the same
    table, its indexes and (with TimescaleDB) its chunks, so only the recorder's own work differs."""
    conn = await asyncpg.connect(await fresh_database(url, "bench_raw"))
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table("prices", records=rows, columns=list(PRICE_COLUMNS))
        return time.perf_counter() - started
    finally:
        await conn.close()


async def store_run(url: str, rows: list[tuple], batch: int) -> float:
    """The recorder's insert path alone (store.write_prices: COPY into the table, or on a conflict COPY
    to staging + upsert; one transaction per batch) on the same rows into an empty, migrated
    database: what JetStream costs is the rest."""
    pool = await asyncpg.create_pool(await fresh_database(url, "bench_store"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            started = time.perf_counter()
            for first in range(0, len(rows), batch):
                await write_prices(conn, rows[first : first + batch])
            return time.perf_counter() - started
    finally:
        await pool.close()


async def recorder_run(nats_url: str, url: str, n: int, batch: int) -> float:
    settings = RecorderSettings.model_validate(
        {"nats_url": nats_url, "database_url": url, "metrics_port": 0, "recorder_batch": batch}
    )
    stop, health = asyncio.Event(), HealthState()
    task = asyncio.create_task(run_recorder(settings, stop, health))
    while not health.ready:  # noqa: ASYNC110 - HealthState has no event to wait on
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    # Done when the recorder's consumer has acked every message: it acks only after the batch's
    # commit. (Counting the rows instead, every 50 ms, kept PostgreSQL busy counting a growing table
    # on the same two cores the recorder and its COPY need.)
    bus = await connect_bus(settings, "bench-watch")
    try:
        while True:
            info = await bus.js.consumer_info(PRICES_STREAM, PRICES_DURABLE)
            if info.delivered.stream_seq > 0 and info.num_pending == 0 and info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        await bus.close()
    elapsed = time.perf_counter() - started
    conn = await asyncpg.connect(url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM prices")
    finally:
        await conn.close()
    if stored != n:
        raise SystemExit(f"the recorder acked every message but stored {stored} of {n} prices")
    stop.set()
    await task
    return elapsed


async def main(n: int, batch: int, fast: bool, single: bool) -> None:
    base = Path(tempfile.mkdtemp(prefix="inthegrid-bench-"))
    base.chmod(0o755)  # noqa: ASYNC240 - before anything runs; PostgreSQL's user must traverse it
    try:
        with EmbeddedNats(base / "js") as nats_server, EmbeddedPostgres(base / "pg", fast=fast) as pg:
            prices = build_prices(n)
            bus = await connect_bus(RecorderSettings.model_validate({"nats_url": nats_server.url}), "bench")
            for i in range(0, n, 10_000):
                chunk = prices[i : i + 10_000]
                if single:
                    items = [
                        (price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in chunk
                    ]
                else:
                    items = batched_price_messages(chunk)
                await publish_all(bus, items)
            await bus.close()
            recorder_s = await recorder_run(nats_server.url, pg.url(), n, batch)
            rows = [build_price_row(p, i + 1) for i, p in enumerate(prices)]
            raw_s = await raw_copy(pg.url(), rows)
            raw_prices_s = await raw_copy_into_prices(pg.url(), rows)
            store_s = await store_run(pg.url(), rows, batch)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    durability = "off (fsync/synchronous_commit off)" if fast else "on (PostgreSQL defaults)"
    form = "one price per message (v1)" if single else "batches of one zone's prices (v2)"
    print(f"prices: {n} in {form}, recorder batch: {batch} rows, durability {durability}")
    print(
        f"recorder (JetStream -> decode -> COPY (upsert on conflict) -> ack): {n / recorder_s:,.0f} rows/s "
        f"({recorder_s:.2f} s)"
    )
    print(
        f"raw asyncpg copy_records_to_table, one COPY, plain table: {n / raw_s:,.0f} rows/s ({raw_s:.2f} s)"
    )
    print(
        f"recorder insert path alone (write_prices per batch):        {n / store_s:,.0f} rows/s "
        f"({store_s:.2f} s)"
    )
    print(
        f"raw COPY into a freshly migrated prices table, one COPY:  {n / raw_prices_s:,.0f} rows/s "
        f"({raw_prices_s:.2f} s)"
    )
    print(f"ratio recorder / raw: {raw_s / recorder_s:.2f}; insert path / raw: {raw_s / store_s:.2f}")
    print(
        f"ratio recorder / raw into prices: {raw_prices_s / recorder_s:.2f}; "
        f"insert path / raw into prices: {raw_prices_s / store_s:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="rows per batch (the recorder's default)")
    parser.add_argument("--fast", action="store_true", help="turn PostgreSQL durability off")
    parser.add_argument("--single", action="store_true", help="publish one price per message (contract v1)")
    args = parser.parse_args()
    asyncio.run(main(args.prices, args.batch, args.fast, args.single))
