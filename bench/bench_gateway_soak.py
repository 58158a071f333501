"""Gateway soak: SSE clients connecting and dropping plus fuzzed REST traffic at a steady rate, for a
configurable time; prints the gateway's RSS over time and whether it levelled off.

Starts nats-server, PostgreSQL, the recorder and the gateway (real processes, API keys and a rate
limit as deployed), publishes one quarter-hour of prices for five zones every second, then runs:
- ``--sse-slots`` SSE clients, each connecting to a stream (prices or opportunities, random zone
  filter and Last-Event-ID), reading for 0.2-3 s, then dropping the connection (a third of them
  without reading anything: stalled clients), and connecting again;
- ``--rest-rate`` REST requests a second, fuzzed: every documented GET with random valid and
  invalid parameters (unknown zones, free-text rules and pairs, calendar-edge dates, huge limits,
  wrong keys).

    .venv/bin/python bench/bench_gateway_soak.py [--seconds 180] [--sse-slots 40] [--rest-rate 40]

The verdict compares the RSS of the last third of the run with the middle third: growth below
``--tolerance-mib`` (default 5 MiB) is "levelled off".
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
from _common import ROOT, load, machine, servers, stamp

from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import Resolution, floor_to_period, make_price
from inthegrid.domain.rules import PROOF_OF_CONCEPT_ZONES, proof_of_concept_rule
from inthegrid.domain.zones import ZONE_CODES
from inthegrid.local.embedded import free_port
from inthegrid.platform.bus import Bus, connect_bus, price_subject, publish_all
from inthegrid.platform.rules_kv import announce_rule
from inthegrid.platform.settings import CommonSettings
from tests.support.processes import ServiceProcess

KEY = "soak-key-5f1e2d3c4b"
EDGE_TIMES = (
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+01:00",
    "1970-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "yesterday",
    "1e9",
)


def _text(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + "-_/%", k=rng.randint(1, 40)))


def _when(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(EDGE_TIMES)
    moment = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 15 * 365 * 86400))
    return moment.isoformat()


def fuzzed_request(rng: random.Random) -> tuple[str, dict[str, str], dict[str, str]]:
    """(path, query, headers) of one random request, valid or not."""
    zone = rng.choice([*ZONE_CODES, "DE", "XX", _text(rng)])
    pair = rng.choice(["DE-LU/FR", "FR/NL", f"{zone}/{rng.choice(ZONE_CODES)}", _text(rng)])
    path, query = rng.choice(
        [
            ("/api/prices/latest", {"zone": ",".join(rng.sample(ZONE_CODES, rng.randint(1, 6)))}),
            ("/api/prices/latest", {"market": rng.choice(["day_ahead", "intraday", _text(rng)])}),
            (f"/api/prices/history/{zone}", {"from": _when(rng), "to": _when(rng)}),
            (f"/api/prices/history/{zone}", {"limit": str(rng.choice([1, 100, 10**6, -1])), "offset": "0"}),
            ("/api/spreads/latest", {"rule": rng.choice(["proof-of-concept", _text(rng)])}),
            ("/api/spreads/opportunities", {"rule": _text(rng), "pair": pair}),
            ("/api/opportunities/history", {"pair": pair, "from": _when(rng)}),
            ("/api/zones", {}),
            ("/api/borders", {}),
            ("/health", {}),
        ]
    )
    headers = {"X-API-Key": KEY if rng.random() < 0.9 else _text(rng)}
    return path, query, headers


async def rest_load(base: str, rate: float, stop: asyncio.Event, counts: dict[str, int]) -> None:
    rng = random.Random(1)
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def one() -> None:
            path, query, headers = fuzzed_request(rng)
            try:
                r = await client.get(path, params=query, headers=headers)
                counts[f"{r.status_code // 100}xx"] = counts.get(f"{r.status_code // 100}xx", 0) + 1
            except httpx.HTTPError:
                counts["failed"] = counts.get("failed", 0) + 1

        pending: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        sent = 0
        while not stop.is_set():
            due = int((time.monotonic() - started) * rate)
            while sent < due:
                task = asyncio.create_task(one())
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            await asyncio.sleep(0.02)
        await asyncio.gather(*pending, return_exceptions=True)


async def sse_slot(host: str, port: int, seed: int, stop: asyncio.Event, counts: dict[str, int]) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        stream = rng.choice(["prices", "opportunities"])
        query = (
            f"?zone={rng.choice(PROOF_OF_CONCEPT_ZONES)}" if stream == "prices" and rng.random() < 0.5 else ""
        )
        resume = f"Last-Event-ID: {rng.choice(['1', '999999', '-1', 'x'])}\r\n" if rng.random() < 0.3 else ""
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            counts["sse_failed"] = counts.get("sse_failed", 0) + 1
            await asyncio.sleep(0.5)
            continue
        writer.write(
            f"GET /api/stream/{stream}{query} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY}\r\n"
            f"Accept: text/event-stream\r\n{resume}\r\n".encode()
        )
        counts["sse_connections"] = counts.get("sse_connections", 0) + 1
        try:
            await writer.drain()
            if rng.random() < 0.33:
                await asyncio.sleep(rng.uniform(0.2, 3.0))  # stalled: never reads, then drops
            else:
                deadline = time.monotonic() + rng.uniform(0.2, 3.0)
                while time.monotonic() < deadline:
                    try:
                        if not await asyncio.wait_for(reader.read(65536), deadline - time.monotonic()):
                            break
                    except TimeoutError:
                        break
        except OSError:
            pass
        finally:
            writer.transport.abort()  # a dropped connection, not a polite close


async def publish_prices(bus: Bus, stop: asyncio.Event) -> None:
    period = floor_to_period(datetime.now(UTC), Resolution.PT15M)
    rng = random.Random(2)
    k = 0
    while not stop.is_set():
        start = period + timedelta(minutes=15 * k)
        now = datetime.now(UTC)
        prices = [
            make_price(z, start, rng.uniform(20, 140), resolution="PT15M", source="soak", published_at=now)
            for z in PROOF_OF_CONCEPT_ZONES
        ]
        await publish_all(
            bus, [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices]
        )
        k += 1
        await asyncio.sleep(1.0)


async def soak(
    seconds: float, sse_slots: int, rest_rate: float, sample_every: float, tolerance: float, ring: int | None
) -> None:
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
            {
                **env,
                "INTHEGRID_HTTP_PORT": str(port),
                "INTHEGRID_HTTP_HOST": "127.0.0.1",
                "INTHEGRID_API_KEYS": KEY,
                "INTHEGRID_RATE_LIMIT_PER_MINUTE": "1000000",
                **({"INTHEGRID_SSE_RING_SIZE": str(ring)} if ring is not None else {}),
            },
            Path(logs) / "gateway.log",
        )
        bus = await connect_bus(CommonSettings(nats_url=nats.url), "soak")
        stop = asyncio.Event()
        counts: dict[str, int] = {}
        try:
            rule = proof_of_concept_rule()
            await announce_rule(bus, rule.name, rule.spec)
            gateway.start(wait_ready=90)
            process = psutil.Process(gateway.process.pid)  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{port}"
            print(f"# gateway soak, {stamp()}, {machine()}, {load()} at start")
            print(f"# {seconds:.0f} s; {sse_slots} SSE clients connecting/dropping; {rest_rate:g} REST req/s")
            print(f"# SSE resume ring: {ring if ring is not None else 'the default'} events per stream")
            tasks = [
                asyncio.create_task(publish_prices(bus, stop)),
                asyncio.create_task(rest_load(base, rest_rate, stop, counts)),
                *[
                    asyncio.create_task(sse_slot("127.0.0.1", port, i, stop, counts))
                    for i in range(sse_slots)
                ],
            ]
            header = ("t s", "RSS MiB", "SSE conns", "REST 2xx", "4xx", "5xx", "load")
            print(" ".join(f"{h:>9}" for h in header))
            samples: list[tuple[float, float]] = []
            began = time.monotonic()
            while (elapsed := time.monotonic() - began) < seconds:
                rss = process.memory_info().rss / 2**20
                samples.append((elapsed, rss))
                row = (
                    f"{elapsed:.0f}",
                    f"{rss:.1f}",
                    *(str(counts.get(k, 0)) for k in ("sse_connections", "2xx", "4xx", "5xx")),
                    load().rsplit(" ", 1)[1],
                )
                print(" ".join(f"{v:>9}" for v in row), flush=True)
                await asyncio.sleep(min(sample_every, max(0.1, seconds - elapsed)))
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            rss = process.memory_info().rss / 2**20
            samples.append((time.monotonic() - began, rss))
            third = len(samples) // 3
            middle = max(r for _, r in samples[third : 2 * third] or samples)
            last = max(r for _, r in samples[2 * third :])
            verdict = "levelled off" if last - middle < tolerance else "STILL GROWING"
            peak = max(r for _, r in samples)
            print(f"\nRSS: start {samples[0][1]:.1f} MiB, peak {peak:.1f} MiB, end {rss:.1f} MiB")
            print(
                f"peak of the last third {last:.1f} vs the middle {middle:.1f} MiB: {last - middle:+.1f} MiB"
            )
            print(f"-> {verdict}")
            print(f"totals: {counts}")
        finally:
            stop.set()
            await bus.close()
            gateway.terminate()
            recorder.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=180.0, help="how long to soak (default 3 minutes)")
    parser.add_argument(
        "--sse-slots", type=int, default=40, help="SSE clients connecting and dropping at once"
    )
    parser.add_argument("--rest-rate", type=float, default=40.0, help="fuzzed REST requests per second")
    parser.add_argument("--sample-seconds", type=float, default=15.0, help="RSS sampling interval")
    parser.add_argument("--tolerance-mib", type=float, default=5.0, help="growth still called levelled off")
    parser.add_argument(
        "--ring-size",
        type=int,
        default=None,
        help="the gateway's SSE resume ring per stream (default: its own)",
    )
    args = parser.parse_args()
    assert ROOT.exists()
    asyncio.run(
        soak(
            args.seconds,
            args.sse_slots,
            args.rest_rate,
            args.sample_seconds,
            args.tolerance_mib,
            args.ring_size,
        )
    )


if __name__ == "__main__":
    main()
