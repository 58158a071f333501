"""Gateway replicas under open-loop load at rising rates, with the rest of the platform running.

Starts nats-server, PostgreSQL, the simulator feed (5 zones; by default one quarter-hour a second, so 5
prices and up to 10 opportunity events a second), the calculator, the
recorder and N gateway processes (replicas, each with its own NATS connection and its own ephemeral
consumers holding live state in memory, as the chart's gateway.replicas runs them behind a Service).
Then, for /api/prices/latest and /api/spreads/opportunities, offers rising request rates from a separate
process (bench/gateway_open_loop.py: a fixed schedule spread round-robin over the replicas, latency from
each request's scheduled time) and reports the highest rate whose p99 stays <= the target (20 ms) with
no errors.

    .venv/bin/python bench/bench_gateway_rates.py [--gateways 1,2] [--rates 100,200,400,800] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import load, machine, servers, stamp

from inthegrid.local.embedded import free_port
from tests.support.faults import calculator_process, feed_process, recorder_process
from tests.support.processes import ServiceProcess

OPEN_LOOP = str(Path(__file__).with_name("gateway_open_loop.py"))
ENDPOINTS = ("/api/prices/latest", "/api/spreads/opportunities")


async def offer(urls: list[str], rate: float, seconds: float) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        OPEN_LOOP,
        ",".join(urls),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def wait_for_opportunities(base: str, timeout: float = 180) -> None:
    """Until the gateway lists open opportunities (the calculator found some and the gateway holds them)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                r = await client.get(f"{base}/api/spreads/opportunities")
                if r.status_code == 200 and r.json().get("count"):
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"no opportunities at {base} after {timeout:.0f}s")


async def bench(
    gateway_counts: list[int], rates: list[float], seconds: float, target_ms: float, feed_speed: float
) -> None:
    print(f"# gateway replicas at rising open-loop rates, {stamp()}, {machine()}")
    print(
        f"# feed {feed_speed / 900 * 5:.0f} prices/s, calculator, recorder;"
        f" {seconds:.0f} s per rate;"
        f" target p99 <= {target_ms} ms"
    )
    with servers(fast=True) as (nats, pg), tempfile.TemporaryDirectory() as logs:
        tmp = Path(logs)
        quiet = {"INTHEGRID_LOG_LEVEL": "WARNING"}
        platform = [
            calculator_process(tmp, nats.url, quiet),
            recorder_process(tmp, nats.url, pg.url(), quiet),
            feed_process(tmp, nats.url, feed_speed, env=quiet),
        ]
        for p in platform:
            p.start(wait_ready=120)
        try:
            for count in gateway_counts:
                gateways = []
                for i in range(count):
                    port = free_port()
                    env = {
                        **quiet,
                        "INTHEGRID_NATS_URL": nats.url,
                        "INTHEGRID_DATABASE_URL": pg.url(),
                        "INTHEGRID_HTTP_HOST": "127.0.0.1",
                        "INTHEGRID_HTTP_PORT": str(port),
                    }
                    gateways.append(
                        (ServiceProcess(["gateway", "--no-dashboard"], env, tmp / f"gateway{i}.log"), port)
                    )
                for g, _ in gateways:
                    g.start(wait_ready=0)
                try:
                    for g, _ in gateways:
                        g.wait_ready(120)
                    bases = [f"http://127.0.0.1:{port}" for _, port in gateways]
                    for base in bases:
                        await wait_for_opportunities(base)
                    async with httpx.AsyncClient() as client:
                        for path in ENDPOINTS:
                            body = (await client.get(bases[0] + path)).content
                            print(f"# {path}: {len(body)} bytes per answer now")
                    print(f"\n## {count} gateway replica(s), {load()}")
                    print(
                        f"{'endpoint':30} {'offered/s':>9} {'ok/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
                        f" {'errors':>6} {'late':>6} {'kB after':>8}"
                    )
                    for path in ENDPOINTS:
                        best = 0.0
                        for rate in rates:
                            r = await offer([b + path for b in bases], rate, seconds)
                            # The opportunities answer grows as the sped-up feed opens more: its size
                            # at the end of each step says what that step served.
                            async with httpx.AsyncClient() as client:
                                size = len((await client.get(bases[0] + path)).content) / 1000
                            print(
                                f"{path:30} {rate:9.0f} {r['achieved_rps']:8.0f} {r['p50_ms']:8.1f} "
                                f"{r['p99_ms']:8.1f} {r['errors']:6.0f} {r['late_sends']:6.0f} {size:8.1f}",
                                flush=True,
                            )
                            if r["errors"]:
                                print(f"  first error: {r['first_error']}", flush=True)
                            if r["p99_ms"] <= target_ms and not r["errors"]:
                                best = rate
                            else:
                                break  # rates only rise from here
                        print(
                            f"{path:30} highest rate with p99 <= {target_ms:.0f} ms: {best:.0f}/s", flush=True
                        )
                finally:
                    for g, _ in gateways:
                        g.terminate()
        finally:
            for p in reversed(platform):
                p.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--gateways", default="1,2", help="gateway replica counts to measure, comma-separated"
    )
    parser.add_argument("--rates", default="100,200,400,600,800,1200,1600", help="offered requests/s, rising")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--target-ms", type=float, default=20.0, help="p99 a rate must stay within")
    parser.add_argument(
        "--feed-speed", type=float, default=900.0, help="simulated seconds per second (900: a quarter-hour)"
    )
    args = parser.parse_args()
    asyncio.run(
        bench(
            [int(c) for c in args.gateways.split(",")],
            [float(r) for r in args.rates.split(",")],
            args.seconds,
            args.target_ms,
            args.feed_speed,
        )
    )


if __name__ == "__main__":
    main()
