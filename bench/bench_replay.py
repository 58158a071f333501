"""Five years of data/prices replayed through the live pipeline: wall time, rates and peak RSS.

Starts its own nats-server and PostgreSQL, a calculator (proof-of-concept rule) and a recorder as real
processes, then a replay feed of the whole shipped table (2020-2024, hourly, every zone in it) at a
speed that makes every period due at once. Wall time runs from the feed's start until the calculator
has acknowledged every price and the recorder has stored every price and event (no backlog left);
the time the feed needed to publish everything and when the calculator caught up are printed too.

    .venv/bin/python bench/bench_replay.py
    .venv/bin/python bench/bench_replay.py --from 2024-01-01 --to 2024-12-31
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import asyncpg
import nats
from _common import PeakMemory, ServiceProcess, load, machine, servers, stamp

from inthegrid.platform.bus import OPPORTUNITIES_STREAM, PRICES_STREAM
from inthegrid.sources.table import read_table

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
RULE = "proof-of-concept"
SPEED = 1e9  # simulated seconds per wall second: five years are due within a fraction of a second
DURABLES = (
    (PRICES_STREAM, f"calculator-{RULE}"),
    (PRICES_STREAM, "recorder-prices"),
    (OPPORTUNITIES_STREAM, "recorder-opportunities"),
)


async def backlog(js: nats.js.JetStreamContext, stream: str, durable: str) -> int:
    info = await js.consumer_info(stream, durable)
    return (info.num_pending or 0) + (info.num_ack_pending or 0)


async def run(args: argparse.Namespace) -> None:
    table = read_table(TABLE).between(args.first, args.last)
    zones = [str(z) for z in table.frame.columns]
    expected = int(table.frame.count().sum())
    print(f"machine: {machine()}; {stamp()}; {load()} at start")
    print(
        f"replay of {TABLE.name} {table.frame.index[0]:%Y-%m-%d} .. {table.frame.index[-1]:%Y-%m-%d}: "
        f"{len(table.frame):,} periods x {len(zones)} zones = {expected:,} prices"
    )
    with servers(args.fast) as (nats_server, pg), PeakMemory() as memory:
        logs = Path(nats_server.store_dir).parent / "logs"
        common = {"INTHEGRID_NATS_URL": nats_server.url, "INTHEGRID_LOG_LEVEL": "WARNING"}
        procs = {
            "calculator": ServiceProcess(
                ["calculator"], {**common, "INTHEGRID_RULE_NAME": RULE}, logs / "calc.log"
            ),
            "recorder": ServiceProcess(
                ["recorder"], {**common, "INTHEGRID_DATABASE_URL": pg.url()}, logs / "recorder.log"
            ),
        }
        feed = ServiceProcess(
            ["feed"],
            {
                **common,
                "INTHEGRID_FEED_SOURCE": "replay",
                "INTHEGRID_FEED_NAME": "replay",
                "INTHEGRID_REPLAY_PATH": str(TABLE),
                "INTHEGRID_REPLAY_FROM": args.first,
                "INTHEGRID_REPLAY_TO": args.last,
                "INTHEGRID_REPLAY_SPEED": str(SPEED),
                "INTHEGRID_FEED_ZONES": ",".join(zones),
            },
            logs / "feed.log",
        )
        for proc in procs.values():
            proc.start()
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        try:
            for name, proc in procs.items():
                assert proc.process is not None
                memory.watch(name, proc.process.pid)
            started = time.perf_counter()
            feed.start()
            assert feed.process is not None
            memory.watch("feed", feed.process.pid)
            published_s = calculated_s = None
            while True:
                now = time.perf_counter() - started
                if (
                    published_s is None
                    and feed.metric_value("inthegrid_feed_prices_published_total") >= expected
                ):
                    published_s = now
                if published_s is not None:
                    pending = [await backlog(js, stream, durable) for stream, durable in DURABLES]
                    if calculated_s is None and pending[0] == 0:
                        calculated_s = now
                    if not any(pending):
                        break
                if now > args.timeout:
                    raise TimeoutError(f"not done after {args.timeout:.0f} s")
                await asyncio.sleep(0.5)
            wall = time.perf_counter() - started
            messages = (await js.stream_info(PRICES_STREAM)).state.messages
            conn = await asyncpg.connect(pg.url())
            try:
                stored = int(await conn.fetchval("SELECT count(*) FROM prices"))
                events = int(await conn.fetchval("SELECT count(*) FROM opportunity_events"))
            finally:
                await conn.close()
        finally:
            await nc.close()
            feed.terminate()
            for proc in procs.values():
                proc.terminate()
    assert published_s is not None and calculated_s is not None
    print(f"feed published {expected:,} prices in {messages:,} bus messages in {published_s:.1f} s")
    print(f"calculator had valued every price after {calculated_s:.1f} s")
    print(
        f"wall time until every price and event was stored: {wall:.1f} s "
        f"({expected / wall:,.0f} prices/s end to end; {stored:,} price rows, {events:,} opportunity events)"
    )
    print(
        "peak RSS: "
        + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in sorted(memory.peaks.items()))
        + f" (goal <= 150 MB each: {'met' if max(memory.peaks.values()) <= 150 * 2**20 else 'MISSED'})"
    )
    print(f"{load()} at the end")
    if stored != expected:
        raise SystemExit(f"stored {stored:,} price rows, expected {expected:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--from", dest="first", default="2020-01-01")
    parser.add_argument("--to", dest="last", default="2024-12-31")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--fast", action="store_true", help="turn PostgreSQL durability off")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
