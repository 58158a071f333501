"""Gateway under load: REST from memory vs a PostgreSQL query per request, SSE push vs 5 s polling.

Starts nats-server, PostgreSQL, the recorder and the gateway (real processes), announces the
proof-of-concept rule, publishes one price per zone, then drives the gateway from a second process
(bench/gateway_load.py):
- 200 concurrent connections on /api/prices/latest and /api/spreads/latest (answered from memory)
  and, as the baseline, on /api/prices/history/DE-LU?limit=1 (the same latest price, read from
  PostgreSQL on every request);
- 500 concurrent SSE clients on /api/stream/prices while a price is published every 0.5 s:
  delivery latency (publish time -> client receipt) and the gateway's RSS; baseline: 500 clients
  polling /api/prices/latest every 5 s as the proof of concept's dashboard did.

    .venv/bin/python bench/bench_gateway.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
from _common import ROOT, machine, servers, stamp

from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import Resolution, floor_to_period, make_price
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.domain.zones import ZONE_CODES
from inthegrid.local.embedded import free_port
from inthegrid.platform.bus import Bus, connect_bus, price_subject, publish_all
from inthegrid.platform.rules_kv import announce_rule
from inthegrid.platform.settings import CommonSettings
from tests.support.processes import ServiceProcess

LOAD = str(Path(__file__).with_name("gateway_load.py"))


async def publish_prices(bus: Bus, zones: tuple[str, ...], start: datetime, value: float) -> None:
    now = datetime.now(UTC)
    prices = [
        make_price(z, start, value + i, resolution=Resolution.PT15M, source="bench", published_at=now)
        for i, z in enumerate(zones)
    ]
    await publish_all(
        bus, [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices]
    )


async def load(mode: str, url: str, *extra: str, during: object = None) -> dict[str, object]:
    """Run the load generator; ``during`` (a coroutine function) runs once it prints READY."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, LOAD, mode, url, *extra, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    task = None
    result: dict[str, object] = {}
    while line := await proc.stdout.readline():
        if line.strip() == b"READY" and during is not None:
            task = asyncio.create_task(during())  # type: ignore[operator]
        elif line.startswith(b"{"):
            result = json.loads(line)
    await proc.wait()
    if task is not None:
        await task
    return result


async def sample_rss(pid: int, stop: asyncio.Event, peak: list[int]) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        await asyncio.sleep(0.2)


async def bench(seconds: float) -> None:
    with servers(fast=True) as (nats, pg), tempfile.TemporaryDirectory() as logs:
        env = {
            "INTHEGRID_NATS_URL": nats.url,
            "INTHEGRID_DATABASE_URL": pg.url(),
            "INTHEGRID_LOG_LEVEL": "WARNING",
        }
        recorder = ServiceProcess(["recorder"], env, Path(logs) / "recorder.log").start(wait_ready=90)
        port = free_port()
        gateway = ServiceProcess(
            ["gateway", "--no-dashboard"],
            {**env, "INTHEGRID_HTTP_PORT": str(port), "INTHEGRID_HTTP_HOST": "127.0.0.1"},
            Path(logs) / "gateway.log",
        )
        bus = await connect_bus(CommonSettings(nats_url=nats.url), "bench")
        try:
            rule = proof_of_concept_rule()
            await announce_rule(bus, rule.name, rule.spec)
            gateway.start(wait_ready=90)
            base = f"http://127.0.0.1:{port}"
            period = floor_to_period(datetime.now(UTC), Resolution.PT15M)
            await publish_prices(bus, ZONE_CODES, period, 50.0)
            async with httpx.AsyncClient() as client:  # wait until the recorder stored them
                for _ in range(100):
                    r = await client.get(f"{base}/api/prices/history/DE-LU?limit=1")
                    if r.status_code == 200 and r.json()["count"]:
                        break
                    await asyncio.sleep(0.2)
            pid = gateway.process.pid  # type: ignore[union-attr]
            idle_rss = psutil.Process(pid).memory_info().rss
            print(f"# gateway benchmark, {stamp()}, {machine()}")
            print(f"# {len(ZONE_CODES)} zones, proof-of-concept rule (10 pairs); load from a second process")
            print(f"\n## REST, 200 concurrent connections, {seconds:.0f} s each")
            print(f"{'endpoint':58} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
            for label, path in [
                ("/api/prices/latest (memory)", "/api/prices/latest"),
                ("/api/spreads/latest (memory)", "/api/spreads/latest"),
                (
                    "baseline: /api/prices/history/DE-LU?limit=1 (PostgreSQL)",
                    "/api/prices/history/DE-LU?limit=1",
                ),
            ]:
                r = await load("http", base + path, "--connections", "200", "--seconds", str(seconds))
                print(f"{label:58} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['errors']:7}")

            counter = [0]

            async def publish_every_half_second() -> None:
                for _ in range(int(seconds * 2)):
                    counter[0] += 1
                    start = period + timedelta(minutes=15 * counter[0])
                    await publish_prices(bus, ("DE-LU",), start, 40.0 + counter[0] % 50)
                    await asyncio.sleep(0.5)

            stop, peak = asyncio.Event(), [idle_rss]
            sampler = asyncio.create_task(sample_rss(pid, stop, peak))
            sse = await load(
                "sse",
                f"{base}/api/stream/prices?zone=DE-LU",
                "--clients",
                "500",
                "--seconds",
                str(seconds + 2),
                during=publish_every_half_second,
            )
            stop.set()
            await sampler
            poll = await load(
                "poll",
                f"{base}/api/prices/latest",
                "--clients",
                "500",
                "--interval",
                "5",
                "--seconds",
                str(max(seconds, 15) + 5),
                during=publish_every_half_second,
            )
            print("\n## Live delivery to 500 clients (a DE-LU price published every 0.5 s)")
            print(f"{'mode':52} {'deliveries':>10} {'p50 ms':>8} {'p99 ms':>8}")
            print(
                f"{'SSE /api/stream/prices?zone=DE-LU':52} {sse['deliveries']:10} {sse['p50_ms']:8.1f} "
                f"{sse['p99_ms']:8.1f}"
            )
            print(
                f"{'baseline: poll /api/prices/latest every 5 s (PoC)':52} {poll['deliveries']:10} "
                f"{poll['p50_ms']:8.1f} {poll['p99_ms']:8.1f}"
            )
            print(
                f"gateway RSS: idle {idle_rss / 2**20:.0f} MiB, "
                f"peak with 500 SSE clients {peak[0] / 2**20:.0f} MiB"
            )
        finally:
            await bus.close()
            gateway.terminate()
            recorder.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load phase")
    args = parser.parse_args()
    assert ROOT.exists()
    asyncio.run(bench(args.seconds))


if __name__ == "__main__":
    main()
