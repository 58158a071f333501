"""COPY into numeric columns: values as Python floats (how the recorder sent them) against decimal strings at
the column's scale (how it sends them now) and Decimals, the same rows into the same table, in one run.

asyncpg encodes a float bound for ``numeric`` through ``Decimal(float)``, the float's exact binary expansion
(dozens of digits), which PostgreSQL then rounds to the column's scale; a string at that scale is short.

    .venv/bin/python bench/bench_numeric_copy.py [--rows 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from decimal import Decimal

import asyncpg
from _common import load, machine, servers, stamp

TABLE = (
    "CREATE TABLE numeric_copy (a numeric(10,2), b numeric(10,2), c numeric(10,2), d numeric(12,4), e float8)"
)


async def copy_rate(conn: asyncpg.Connection, rows: list[tuple[object, ...]]) -> float:
    await conn.execute("TRUNCATE numeric_copy")
    started = time.perf_counter()
    await conn.copy_records_to_table("numeric_copy", records=rows)
    return len(rows) / (time.perf_counter() - started)


async def bench(url: str, n: int, rounds: int) -> None:
    rng = random.Random(14)
    floats = [
        (
            round(rng.uniform(-100, 300), 2),
            round(rng.uniform(-100, 300), 2),
            round(rng.uniform(0, 30), 2),
            round(rng.uniform(0, 3), 4),
            0.98,
        )
        for _ in range(n)
    ]
    started = time.perf_counter()
    strings = [(f"{a:.2f}", f"{b:.2f}", f"{c:.2f}", f"{d:.4f}", e) for a, b, c, d, e in floats]
    string_us = (time.perf_counter() - started) / n * 1e6
    decimals = [(Decimal(a), Decimal(b), Decimal(c), Decimal(d), e) for a, b, c, d, e in strings]
    variants: dict[str, list[tuple[object, ...]]] = {
        "floats": floats,
        "strings": strings,
        "Decimals": decimals,
    }
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(TABLE)
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):  # alternating, so drifting load hits every variant alike
            for name, rows in variants.items():
                rates[name].append(await copy_rate(conn, rows))
        stored = await conn.fetch("SELECT a, b, c, d FROM numeric_copy ORDER BY a, b, c, d")
    finally:
        await conn.close()
    expected = sorted(tuple(Decimal(v) for v in row[:4]) for row in strings)
    assert [tuple(r) for r in stored] == expected, "every variant must store the same values"
    print(f"machine: {machine()}; {stamp()}; {load()}")
    print(f"{n:,} rows of four numeric columns and a float8, {rounds} rounds alternating; best of each:")
    base = max(rates["floats"])
    for name, values in rates.items():
        print(f"  {name:9} {max(values):9,.0f} rows/s  ({max(values) / base:.2f}x floats)")
    print(f"  formatting the strings: {string_us:.2f} us per row")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with servers(fast=True) as (_, pg):
        asyncio.run(bench(pg.url(), args.rows, args.rounds))


if __name__ == "__main__":
    main()
