"""Decoding cost per price: one price per message (contract v1) against 500-price batches (v2).

Pure CPU, in this process: the same 500 prices decoded from 500 single-price messages and from one
batch, ``--rounds`` times each; prints microseconds per price and the ratio.

    .venv/bin/python bench/bench_codec.py
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from _common import load, machine, stamp

from inthegrid.domain.batch_codec import decode_prices, encode_price_batch
from inthegrid.domain.codec import decode_price, encode_price
from inthegrid.domain.prices import make_price


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    prices = [
        make_price(
            "FR",
            t0 + timedelta(minutes=15 * i),
            50 + i / 4,
            resolution="PT15M",
            source="bench",
            published_at=t0 - timedelta(hours=12),
        )
        for i in range(500)
    ]
    singles = [encode_price(p) for p in prices]
    batch = encode_price_batch(prices)
    now = t0
    print(f"machine: {machine()}; {stamp()}; {load()}")
    started = time.perf_counter()
    for _ in range(args.rounds):
        decoded = [decode_price(m, now=now) for m in singles]
    single_us = (time.perf_counter() - started) / args.rounds / len(prices) * 1e6
    started = time.perf_counter()
    for _ in range(args.rounds):
        result = decode_prices(batch, now=now)
    batch_us = (time.perf_counter() - started) / args.rounds / len(prices) * 1e6
    assert decoded == [p for _, p in result.prices] == prices
    print(f"v1, one price per message: {single_us:.1f} us per price ({sum(map(len, singles)):,} bytes)")
    print(f"v2, one 500-price batch:   {batch_us:.1f} us per price ({len(batch):,} bytes)")
    print(f"ratio v1 / v2: {single_us / batch_us:.1f}x")


if __name__ == "__main__":
    main()
