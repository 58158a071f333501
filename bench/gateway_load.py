"""Load generator for bench_gateway.py, run in its own process so it never shares the gateway's CPU
scheduler slot or event loop. Prints one JSON line of results on stdout.

    python bench/gateway_load.py http URL --connections 200 --seconds 10
    python bench/gateway_load.py sse URL --clients 500 --seconds 20      (prints READY when connected)
    python bench/gateway_load.py poll URL --clients 500 --interval 5 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime
from urllib.parse import urlsplit

import httpx


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))]


def _published_epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def run_http(url: str, connections: int, seconds: float) -> dict[str, object]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await client.get(url)  # warm-up
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                    response.read()
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * (_pct(latencies, 50) or 0),
        "p99_ms": 1000 * (_pct(latencies, 99) or 0),
    }


async def _sse_client(
    host: str, port: int, path: str, latencies: list[float], connected: list[int], stop: asyncio.Event
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    connected[0] += 1
    try:
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), 1.0)
            except TimeoutError:
                continue
            if not line:
                break
            if line.startswith(b"data:"):
                received = time.time()
                doc = json.loads(line[5:])
                if doc.get("published_at"):
                    latencies.append(received - _published_epoch(doc["published_at"]))
    finally:
        writer.close()


async def until_connected(connected: list[int], clients: int) -> None:
    for _ in range(2400):  # up to 2 minutes; the count is shared by every client task
        if connected[0] >= clients:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"only {connected[0]} of {clients} SSE clients connected")


async def run_sse(url: str, clients: int, seconds: float) -> dict[str, object]:
    parts = urlsplit(url)
    latencies: list[float] = []
    connected = [0]
    stop = asyncio.Event()
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    tasks = [
        asyncio.create_task(
            _sse_client(parts.hostname or "127.0.0.1", parts.port or 80, path, latencies, connected, stop)
        )
        for _ in range(clients)
    ]
    await until_connected(connected, clients)
    await asyncio.sleep(1.0)  # let the gateway register every client before anything is published
    print("READY", flush=True)
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "clients": clients,
        "deliveries": len(latencies),
        "p50_ms": 1000 * (_pct(latencies, 50) or 0),
        "p99_ms": 1000 * (_pct(latencies, 99) or 0),
        "max_ms": 1000 * max(latencies, default=0),
    }


async def run_poll(url: str, clients: int, interval: float, seconds: float) -> dict[str, object]:
    """The proof of concept's way: every client polls the latest prices every ``interval`` seconds."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        print("READY", flush=True)
        deadline = time.monotonic() + seconds

        async def poller(offset: float) -> None:
            seen: set[tuple[str, str]] = set()
            await asyncio.sleep(offset)
            first = True
            while time.monotonic() < deadline:
                body = (await client.get(url)).json()
                now = time.time()
                for p in body.get("prices", []):
                    key = (p["zone"], p["published_at"])
                    if key not in seen:
                        seen.add(key)
                        if not first:  # what was there before we started is not a delivery
                            latencies.append(now - _published_epoch(p["published_at"]))
                first = False
                await asyncio.sleep(interval)

        await asyncio.gather(*(poller(interval * i / clients) for i in range(clients)))
    return {
        "clients": clients,
        "deliveries": len(latencies),
        "p50_ms": 1000 * (_pct(latencies, 50) or 0),
        "p99_ms": 1000 * (_pct(latencies, 99) or 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["http", "sse", "poll"])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.mode == "http":
        result = asyncio.run(run_http(args.url, args.connections, args.seconds))
    elif args.mode == "sse":
        result = asyncio.run(run_sse(args.url, args.clients, args.seconds))
    else:
        result = asyncio.run(run_poll(args.url, args.clients, args.interval, args.seconds))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
