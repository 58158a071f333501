"""Decoding cost per price: one price per message (contract v1) against 500-price batches (v2).

Pure CPU, in this process: the same 500 prices decoded from 500 single-price messages and from one
batch, ``--rounds`` times each; prints microseconds per price and the ratio. Then what the recorder
does with a batch message (decode on its subject, make the rows it COPYs), against bare
``orjson.loads`` of the same bytes, which no decoder of these items can beat.

    .venv/bin/python bench/bench_codec.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import orjson
from _common import load, machine, stamp
from nats.aio.msg import Msg

from inthegrid.domain.batch_codec import decode_prices, encode_price_batch
from inthegrid.domain.codec import decode_price, encode_price
from inthegrid.domain.plausibility import DEFAULT_WINDOW
from inthegrid.domain.prices import DEFAULT_LIMITS, make_price
from inthegrid.platform.bus import price_subject
from inthegrid.recorder.service import _decode_price_rows


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

    message = Msg(
        None,  # type: ignore[arg-type]  # a message in hand: no client is needed to read it
        subject=price_subject("day_ahead", "FR"),
        reply="$JS.ACK.PRICES.recorder-prices.1.7.7.1767225600000000000.0",
        data=batch,
    )
    decode = partial(_decode_price_rows, DEFAULT_LIMITS, DEFAULT_WINDOW)
    assert len(decode(message).rows) == len(prices)
    recorder_us = per_price_us(lambda: decode(message), args.rounds, len(prices))
    loads_us = per_price_us(lambda: orjson.loads(batch), args.rounds, len(prices))
    print(f"recorder, batch to rows:   {recorder_us:.2f} us per price (process time)")
    print(f"bare orjson.loads:         {loads_us:.2f} us per price; ratio {recorder_us / loads_us:.1f}x")


def per_price_us(work: Callable[[], object], rounds: int, count: int) -> float:
    work()
    started = time.process_time()
    for _ in range(rounds):
        work()
    return (time.process_time() - started) / rounds / count * 1e6


if __name__ == "__main__":
    main()
