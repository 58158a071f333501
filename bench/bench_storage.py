"""Storage: plain PostgreSQL vs TimescaleDB, same rows, same run.

Real history: data/prices (hourly day-ahead prices 2020-2024, every zone of the table) resampled to
15-minute periods (each hour's price holds for its four quarter-hours, as a period price does), and
one border's opportunities (DE-LU/FR, every period valued: spread, net after 0.50 EUR/MWh,
4,800 MW, coupled) derived from them. Two embedded servers (default durability): the wheel's plain
PostgreSQL and its TimescaleDB build (scripts/build-timescaledb.sh).

1. Insert rate of the recorder's insert path (store.write_prices: COPY staging + upsert, per batch)
   into plain tables and into hypertables, and one raw COPY, on the same year of rows.
2. Disk size of five years (and per year) plain vs hypertable vs compressed hypertable.
3. p50/p99 of the history queries the endpoints run (gateway/storage/aggregates.py; HTTP excluded):
   a zone's year by hour and by day, a border's daily figures for five years, the latest stored
   period per zone; on plain PostgreSQL, and on TimescaleDB with and without continuous aggregates,
   before and after compression. The latest-per-zone plan is checked for SkipScan.

    .venv/bin/python bench/bench_storage.py [--repeat 30] [--batch 2000]

`inthegrid up` cold start with and without TimescaleDB: bench/bench_up_cold_start.py.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from _common import ROOT, load, machine, percentile, stamp

from inthegrid.gateway.storage.aggregates import border_days, latest_stored_prices, price_buckets
from inthegrid.local.embedded import EmbeddedPostgres
from inthegrid.platform.db import run_migrations
from inthegrid.recorder.rows import PRICE_COLUMNS
from inthegrid.recorder.store import write_prices
from inthegrid.sources.table import read_table

TABLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
PUBLISHED = datetime(2019, 12, 31, tzinfo=UTC)
YEAR = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
FIVE_YEARS = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
BORDER = ("DE-LU", "FR")
OPPORTUNITY_COLUMNS = [
    "rule",
    "pair_a",
    "pair_b",
    "market",
    "delivery_start",
    "status",
    "revision",
    "buy_zone",
    "sell_zone",
    "buy_price",
    "sell_price",
    "spread",
    "net_eur_mwh",
    "cost_eur_mwh",
    "capacity_mw",
    "profit_eur",
    "period_hours",
    "coupled",
    "resolution_minutes",
    "first_detected_at",
    "detected_at",
]


def quarter_hour_rows() -> tuple[list[tuple], list[tuple]]:
    """(price rows in PRICE_COLUMNS order, opportunity rows for BORDER), five years, 15 minutes."""
    frame = read_table(TABLE).frame
    quarters = frame.loc[frame.index.repeat(4)].copy()
    quarters.index = quarters.index + np.tile(np.arange(4) * np.timedelta64(15, "m"), len(frame))
    prices: list[tuple] = []
    seq = 0
    for zone in quarters.columns:
        series = quarters[zone].dropna()
        for start, value in zip(series.index.to_pydatetime(), series.to_numpy(), strict=True):
            seq += 1
            prices.append((zone, "day_ahead", 15, start, round(float(value), 2), "bench", PUBLISHED, seq))
    pair = quarters[list(BORDER)].dropna()
    opportunities = []
    for start, a, b in zip(pair.index.to_pydatetime(), pair.iloc[:, 0], pair.iloc[:, 1], strict=True):
        buy, sell = (BORDER[0], BORDER[1]) if a <= b else (BORDER[1], BORDER[0])
        low, high = min(a, b), max(a, b)
        spread = round(high - low, 2)
        net = round(spread - 0.5, 2)
        opportunities.append(
            ("bench", *BORDER, "day_ahead", start, "closed", 1, buy, sell, low, high, spread, net, 0.5,
             4800.0, round(net * 4800 * 0.25, 2), 0.25, True, 15, start, start)
        )  # fmt: skip
    return prices, opportunities


class PoolDb:
    """What the history queries need of the gateway's Database: fetch."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.pool.fetch(sql, *args)


async def new_database(server: EmbeddedPostgres, name: str) -> asyncpg.Pool:
    admin = await asyncpg.connect(server.url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    pool = await asyncpg.create_pool(server.url(name), min_size=1, max_size=2, command_timeout=600)
    await run_migrations(pool)
    return pool


async def insert_rates(servers: dict[str, EmbeddedPostgres], rows: list[tuple], batch: int) -> None:
    print(f"\n1. insert rate, {len(rows):,} price rows (one year, all zones, 15 min), batch {batch}")
    for label, server in servers.items():
        pool = await new_database(server, "bench_insert")
        try:
            async with pool.acquire() as conn:
                started = time.perf_counter()
                for first in range(0, len(rows), batch):
                    await write_prices(conn, rows[first : first + batch])
                store_s = time.perf_counter() - started
                await conn.execute("CREATE TABLE prices_raw (LIKE prices INCLUDING ALL)")
                started = time.perf_counter()
                await conn.copy_records_to_table("prices_raw", records=rows, columns=list(PRICE_COLUMNS))
                raw_s = time.perf_counter() - started
        finally:
            await pool.close()
        table = "hypertable" if label == "timescaledb" else "plain table"
        print(
            f"  {label:11s} recorder insert path into {table:11s}: {len(rows) / store_s:>9,.0f} rows/s "
            f"({store_s:.1f} s); raw COPY into a plain table on the same server: "
            f"{len(rows) / raw_s:>9,.0f} rows/s ({raw_s:.1f} s); ratio {raw_s / store_s:.2f}"
        )


async def size_of(conn: asyncpg.Connection, table: str, timescale: bool) -> int:
    if timescale:
        return int(await conn.fetchval("SELECT hypertable_size($1::regclass)", table))
    return int(await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table))


async def timed(call: Callable[[], Awaitable[list]], repeat: int) -> tuple[float, float, int]:
    for _ in range(3):
        rows = await call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        rows = await call()
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 50), percentile(samples, 99), len(rows)


async def latencies(db: PoolDb, label: str, continuous: bool, repeat: int) -> None:
    queries: dict[str, Callable[[], Awaitable[list]]] = {
        "zone year by hour": lambda: price_buckets(
            db, "DE-LU", bucket="hour", market="day_ahead", start=YEAR[0], end=YEAR[1], limit=100_000,
            continuous=continuous,
        ),
        "zone year by day": lambda: price_buckets(
            db, "DE-LU", bucket="day", market="day_ahead", start=YEAR[0], end=YEAR[1], limit=100_000,
            continuous=continuous,
        ),
        "border 5 years daily": lambda: border_days(
            db, BORDER, market="day_ahead", rule=None, start=FIVE_YEARS[0], end=FIVE_YEARS[1], limit=20_000,
            continuous=continuous,
        ),
    }  # fmt: skip
    if not continuous:  # the same query either way; measured once per storage state
        queries["latest per zone"] = lambda: latest_stored_prices(db, market="day_ahead")
    for name, call in queries.items():
        p50, p99, n = await timed(call, repeat)
        print(f"  {label:44s} {name:22s} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  ({n} rows)")


async def history(
    servers: dict[str, EmbeddedPostgres], prices: list[tuple], opportunities: list[tuple], repeat: int
) -> None:
    print(
        f"\n2./3. history: {len(prices):,} price rows (five years, all zones, 15 min) and "
        f"{len(opportunities):,} opportunity rows ({BORDER[0]}/{BORDER[1]}); {repeat} timed runs per query"
    )
    for label, server in servers.items():
        timescale = label == "timescaledb"
        pool = await new_database(server, "bench_history")
        db = PoolDb(pool)
        try:
            async with pool.acquire() as conn:
                started = time.perf_counter()
                await conn.copy_records_to_table("prices", records=prices, columns=list(PRICE_COLUMNS))
                await conn.copy_records_to_table(
                    "opportunities", records=opportunities, columns=OPPORTUNITY_COLUMNS
                )
                await conn.execute("ANALYZE")
                print(f"  {label}: loaded in {time.perf_counter() - started:.1f} s")
                if timescale:
                    started = time.perf_counter()
                    for view in ("prices_hourly", "prices_daily", "border_daily"):
                        await conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
                    took = time.perf_counter() - started
                    print(f"  timescaledb: continuous aggregates materialized in {took:.1f} s")
                plan = "\n".join(
                    r[0]
                    for r in await conn.fetch(
                        "EXPLAIN SELECT DISTINCT ON (zone) zone, delivery_start, resolution_minutes,"
                        " price_eur_mwh, source FROM prices WHERE market = 'day_ahead'"
                        " ORDER BY zone, delivery_start DESC"
                    )
                )
                print(f"  {label}: latest-per-zone plan uses SkipScan: {'SkipScan' in plan}")
                sizes = {"prices": await size_of(conn, "prices", timescale)}
                sizes["opportunities"] = await size_of(conn, "opportunities", timescale)
            if not timescale:
                await latencies(db, "postgresql (raw tables)", False, repeat)
            else:
                await latencies(db, "timescaledb uncompressed, raw hypertables", False, repeat)
                await latencies(db, "timescaledb uncompressed, continuous aggregates", True, repeat)
                async with pool.acquire() as conn:
                    started = time.perf_counter()
                    for table in ("prices", "opportunities"):
                        await conn.execute(f"SELECT count(compress_chunk(c)) FROM show_chunks('{table}') c")
                    compress_s = time.perf_counter() - started
                    await conn.execute("ANALYZE")
                    compressed = {t: await size_of(conn, t, True) for t in ("prices", "opportunities")}
                print(f"  timescaledb: compressed every chunk in {compress_s:.1f} s")
                await latencies(db, "timescaledb compressed, raw hypertables", False, repeat)
                await latencies(db, "timescaledb compressed, continuous aggregates", True, repeat)
            for table, size in sizes.items():
                line = f"  {label}: {table} {size / 2**20:7.1f} MiB (per year {size / 5 / 2**20:6.1f} MiB)"
                if timescale:
                    c = compressed[table]
                    line += (
                        f"; compressed {c / 2**20:6.1f} MiB (per year {c / 5 / 2**20:5.1f} MiB),"
                        f" ratio {size / c:.1f}x"
                    )
                print(line)
        finally:
            await pool.close()


async def main(repeat: int, batch: int) -> None:
    print(f"{stamp()}; {machine()}; {load()}")
    started = time.perf_counter()
    prices, opportunities = quarter_hour_rows()
    year = [r for r in prices if YEAR[0] <= r[3] < YEAR[1]]
    print(f"rows built in {time.perf_counter() - started:.1f} s")
    base = Path(tempfile.mkdtemp(prefix="inthegrid-bench-storage-"))
    base.chmod(0o755)  # noqa: ASYNC240 - PostgreSQL's unprivileged user must traverse it
    try:
        with (
            EmbeddedPostgres(base / "plain", storage="postgresql") as plain,
            EmbeddedPostgres(base / "tsdb", storage="timescaledb") as tsdb,
        ):
            print(f"servers: {plain.install.describe()} | {tsdb.install.describe()}")
            servers = {"postgresql": plain, "timescaledb": tsdb}
            await insert_rates(servers, year, batch)
            await history(servers, prices, opportunities, repeat)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.repeat, args.batch))
