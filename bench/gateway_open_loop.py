"""Open-loop load for bench_gateway_rates.py, in its own process: requests leave on a fixed schedule
(``rate`` a second) whatever the answers, spread round-robin over several gateway replicas as a
Service would. Latency is measured from each request's scheduled time, so a gateway that falls behind
shows it (a closed loop would slow down with it and hide the queue). Prints one JSON line.

    python bench/gateway_open_loop.py URL[,URL...] --rate 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))]


async def run(urls: list[str], rate: float, seconds: float, connections: int) -> dict[str, object]:
    latencies: list[float] = []
    errors = 0
    first_error = ""
    late = 0  # requests the generator itself sent more than 5 ms after their scheduled time
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        for url in urls:  # warm-up: one connection to each replica
            await client.get(url)

        async def one(url: str, scheduled: float) -> None:
            nonlocal errors, late, first_error
            if time.perf_counter() - scheduled > 0.005:
                late += 1
            try:
                response = await client.get(url)
                ok = response.status_code == 200
                error = "" if ok else f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                ok, error = False, repr(exc)
            if ok:
                latencies.append(time.perf_counter() - scheduled)
            else:
                errors += 1
                first_error = first_error or error

        total = int(rate * seconds)
        tasks = []
        start = time.perf_counter()
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(urls[i % len(urls)], scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "offered_rps": rate,
        "requests": total,
        "ok": len(latencies),
        "errors": errors,
        "late_sends": late,
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": 1000 * (_pct(latencies, 50) or 0),
        "p99_ms": 1000 * (_pct(latencies, 99) or 0),
        "max_ms": 1000 * max(latencies, default=0),
        "first_error": first_error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("urls", help="comma-separated URLs, one per gateway replica")
    parser.add_argument("--rate", type=float, required=True, help="requests per second, scheduled")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=256, help="most connections open at once")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args.urls.split(","), args.rate, args.seconds, args.connections))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
