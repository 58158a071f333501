"""The pipeline under load: detection latency, sustained throughput and peak memory per service.

Starts its own nats-server and PostgreSQL, and the services as real processes
(``python -m inthegrid.cli calculator|recorder|gateway|feed``), then in one run:

1. raw baseline: a bare nats-py JetStream loop (publish_async + pull fetch + ack) of price-sized
   messages on a stream of its own: the ceiling of any JetStream consumer in Python here;
2. detection latency: this process publishes prices at ``--latency-rate`` (five zones per period
   at one price, except every ``--opportunity-every``-th period where AT is 20 EUR/MWh higher and
   opens four opportunities) and reads
   the gateway's SSE stream /api/stream/opportunities; latency = SSE event arrival - the moment
   the AT price was handed to the publisher. The gateway updates the state behind
   GET /api/spreads/opportunities in the same callback, just before the SSE fan-out;
3. throughput: a real feed (the simulator, its clock sped up to give each ``--rates`` value) ->
   calculator -> recorder for ``--step-seconds`` each; the backlog (pending + unacked) of every
   durable consumer is sampled each second and its growth fitted by least squares;
4. peak RSS of each service process during 2 and 3.

    .venv/bin/python bench/bench_pipeline.py
    .venv/bin/python bench/bench_pipeline.py --latency-seconds 30 --rates 10000,20000,30000 --step-seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import orjson
from _common import PeakMemory, ServiceProcess, load, machine, percentile, servers, stamp
from nats.aio.msg import Msg
from nats.js.api import StreamConfig
from nats.js.client import JetStreamContext

from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import make_price
from inthegrid.domain.rules import PROOF_OF_CONCEPT_ZONES
from inthegrid.local.embedded import free_port
from inthegrid.platform.bus import (
    OPPORTUNITIES_STREAM,
    OPPORTUNITY_SUBJECT_ROOT,
    PRICES_STREAM,
    price_subject,
)

CALCULATOR_DURABLE = "calculator-proof-of-concept"
DURABLES = {
    "calculator": (PRICES_STREAM, CALCULATOR_DURABLE),
    "recorder-prices": (PRICES_STREAM, "recorder-prices"),
    "recorder-events": (OPPORTUNITIES_STREAM, "recorder-opportunities"),
}
POC_BASELINE_WORST_S = 20.0  # proof of concept: 10 s ingestion interval + 10 s dashboard polling
POC_BASELINE_MEAN_S = 10.0  # uniform phase of both 10 s cycles: 5 s + 5 s on average
WARMUP_SECONDS = 2.0


# --- 1. raw JetStream baseline ----------------------------------------------------------------


async def raw_baseline(nats_url: str, count: int) -> float:
    """Messages per second of a bare publish_async + fetch + ack loop, both running at once."""
    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCHRAW", subjects=["benchraw.>"]))
    payload = encode_price(make_price("DE-LU", datetime(2026, 1, 1, tzinfo=UTC), 61.25, source="bench"))
    sub = await js.pull_subscribe("benchraw.>", durable="raw", stream="BENCHRAW")

    async def produce() -> None:
        # Chunks below nats-py's in-flight limit, no wait_stall (see platform.bus.publish_all), message ids
        # as the feed sends them: the fastest way nats-py offers to get acknowledged publishes.
        for first in range(0, count, 1000):
            futures = [
                await js.publish_async(f"benchraw.{i % 5}", payload, headers={"Nats-Msg-Id": f"raw-{i}"})
                for i in range(first, min(count, first + 1000))
            ]
            await asyncio.gather(*futures)

    async def consume() -> None:
        done = 0
        while done < count:
            with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
                for msg in await sub.fetch(256, timeout=1.0):
                    await msg.ack()
                    done += 1

    started = time.perf_counter()
    await asyncio.gather(produce(), consume())
    elapsed = time.perf_counter() - started
    await js.delete_stream("BENCHRAW")
    await nc.close()
    return count / elapsed


# --- 2. detection latency ---------------------------------------------------------------------


async def read_sse(
    client: httpx.AsyncClient, arrivals: dict[str, float], ready: asyncio.Event, stats: dict[str, int]
) -> None:
    """Follow the SSE stream; when the gateway ends it (it fell behind this client and dropped
    events), resume with Last-Event-ID as a browser does, and count the reconnect."""
    last_id: str | None = None
    while True:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        async with client.stream(
            "GET", "/api/stream/opportunities", headers=headers, timeout=None
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("retry:"):
                    ready.set()
                elif line.startswith("id: "):
                    last_id = line[4:]
                elif line.startswith("data: "):
                    now = time.perf_counter()
                    item = orjson.loads(line[6:])
                    if item.get("kind") == "opened":
                        key = f"{item['pair'][0]}|{item['pair'][1]}|{item['delivery_start']}"
                        arrivals.setdefault(key, now)
        stats["reconnects"] = stats.get("reconnects", 0) + 1


async def latency(nats_url: str, http_url: str, rate: int, seconds: float, every: int) -> dict[str, float]:
    """Publish ``rate`` prices/s for ``seconds``; in every ``every``-th period AT is 20 EUR/MWh above
    the others and opens four opportunities: the latency of each of those."""
    zones = list(PROOF_OF_CONCEPT_ZONES)
    high = "AT"
    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    arrivals: dict[str, float] = {}
    published: dict[str, float] = {}  # delivery start (ISO Z) of the period -> when AT was published
    on_bus: dict[str, float] = {}  # the same keys: when the calculator's event reached the bus

    async def tap(msg: Msg) -> None:
        # A batch of one pair's events (v2) or a single event (v1); only the fields read here.
        doc = orjson.loads(msg.data)
        pair = doc["pair"]
        for item in doc.get("items", [doc]):
            if item.get("kind") == "opened":
                on_bus.setdefault(f"{pair[0]}|{pair[1]}|{item['delivery_start']}", time.perf_counter())

    await nc.subscribe(f"{OPPORTUNITY_SUBJECT_ROOT}.>", cb=tap)
    ready = asyncio.Event()
    async with httpx.AsyncClient(base_url=http_url) as client:
        stats: dict[str, int] = {}
        reader = asyncio.create_task(read_sse(client, arrivals, ready, stats))
        await asyncio.wait_for(ready.wait(), 30)
        first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        periods = int(rate * seconds / len(zones))
        futures = []
        started = time.perf_counter()
        for k in range(periods):
            # Pace by period: the k-th period's prices go out at k * len(zones) / rate seconds.
            delay = started + k * len(zones) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            start = first + timedelta(minutes=15 * k)
            base = 40.0 + (k % 50)
            for zone in zones:
                opens = zone == high and k % every == 0
                price = make_price(
                    zone,
                    start,
                    base + (20.0 if opens else 0.0),
                    resolution="PT15M",
                    source="bench-latency",
                )
                if opens:
                    published[start.strftime("%Y-%m-%dT%H:%M:%SZ")] = time.perf_counter()
                futures.append(
                    await js.publish_async(
                        price_subject("day_ahead", zone),
                        encode_price(price),
                        headers={"Nats-Msg-Id": price.message_id},
                    )
                )
            if len(futures) >= 1000:  # stay below nats-py's in-flight limit
                await asyncio.gather(*futures)
                futures.clear()
        sent = time.perf_counter() - started
        await asyncio.gather(*futures)
        expected = len(range(0, periods, every)) * (len(zones) - 1)
        deadline = time.monotonic() + 30
        while len(arrivals) < expected and time.monotonic() < deadline:  # noqa: ASYNC110 - SSE reader fills it
            await asyncio.sleep(0.1)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await reader
    await nc.close()
    warm = started + WARMUP_SECONDS

    def since_publish(seen: dict[str, float]) -> list[float]:
        out = []
        for key, arrived in seen.items():
            when = published.get(key.rsplit("|", 1)[1])
            if when is not None and when >= warm:
                out.append(arrived - when)
        return out

    samples, bus_samples = since_publish(arrivals), since_publish(on_bus)
    if not samples or not bus_samples:
        raise RuntimeError("no opportunity reached the gateway's SSE stream")
    return {
        "bus_p50": percentile(bus_samples, 50),
        "bus_p99": percentile(bus_samples, 99),
        "offered_rate": periods * len(zones) / sent,
        "opportunities": len(samples),
        "received": len(arrivals),
        "reconnects": stats.get("reconnects", 0),
        "expected": expected,
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "max": max(samples),
        "mean": sum(samples) / len(samples),
    }


# --- 3. throughput ----------------------------------------------------------------------------


# Prices (and event rows) counted by each service: the bus carries batches, so message counts (stream
# sequences, ack floors) measure backlog but not prices.
COUNTERS = {
    "feed": ("feed", "inthegrid_feed_prices_published_total", {}),
    "calculator": ("calculator", "inthegrid_calculator_prices_processed_total", {}),
    "recorder-prices": ("recorder", "inthegrid_recorder_rows_written_total", {"table": "prices"}),
    "recorder-events": ("recorder", "inthegrid_recorder_rows_written_total", {"table": "opportunity_events"}),
}


def counters(procs: dict[str, ServiceProcess]) -> dict[str, float]:
    return {
        name: procs[proc].metric_value(metric, **labels) for name, (proc, metric, labels) in COUNTERS.items()
    }


@dataclass
class Step:
    target: int
    offered: float  # prices/s the feed published
    rates: dict[str, float]  # prices (rows) per second each service handled
    messages: float  # bus messages/s the feed published
    consumed: dict[str, float]  # messages/s each durable consumer acked
    growth: dict[str, float]  # backlog growth, messages per second (least-squares slope)
    final_backlog: dict[str, int]
    drain_seconds: float

    @property
    def flat(self) -> bool:
        # Flat: no consumer's backlog grows by more than 5 % of what reaches it (its consumption plus
        # its growth), and all caught up within a few seconds once the feed stopped. Backlogs jump by
        # a fetched batch at a time, so a small absolute backlog is normal.
        keeps_up = all(g <= 0.05 * (self.consumed[k] + g) for k, g in self.growth.items())
        return self.offered > 0 and keeps_up and self.drain_seconds <= 5.0


def slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


async def backlogs(js: JetStreamContext) -> tuple[int, dict[str, int], dict[str, int]]:
    """(PRICES last sequence, backlog per consumer, ack floor per consumer)."""
    last = (await js.stream_info(PRICES_STREAM)).state.last_seq
    backlog, floor = {}, {}
    for name, (stream, durable) in DURABLES.items():
        info = await js.consumer_info(stream, durable)
        backlog[name] = (info.num_pending or 0) + (info.num_ack_pending or 0)
        floor[name] = info.ack_floor.stream_seq if info.ack_floor else 0
    return last, backlog, floor


async def throughput_step(
    nats_url: str,
    feed: ServiceProcess,
    procs: dict[str, ServiceProcess],
    target: int,
    seconds: float,
    memory: PeakMemory,
) -> Step:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    samples: list[tuple[float, int, dict[str, int], dict[str, int], dict[str, float]]] = []
    counted = {**procs, "feed": feed}
    try:
        feed.start()
        assert feed.process is not None
        memory.watch("feed", feed.process.pid)
        started = time.perf_counter()
        while (now := time.perf_counter()) - started < seconds:
            last, backlog, floor = await backlogs(js)
            samples.append((now - started, last, backlog, floor, counters(counted)))
            await asyncio.sleep(1.0)
    finally:
        feed.terminate()
    measured = [s for s in samples if s[0] >= WARMUP_SECONDS]
    (t0, last0, _, floor0, count0), (t1, last1, backlog1, floor1, count1) = measured[0], measured[-1]
    rates = {name: (count1[name] - count0[name]) / (t1 - t0) for name in COUNTERS}
    messages = (last1 - last0) / (t1 - t0)
    consumed = {name: (floor1[name] - floor0[name]) / (t1 - t0) for name in DURABLES}
    growth = {name: slope([(s[0], s[2][name]) for s in measured]) for name in DURABLES}
    drain_started = time.perf_counter()
    while True:
        _, backlog, _ = await backlogs(js)
        if not any(backlog.values()) or time.perf_counter() - drain_started > 120:
            break
        await asyncio.sleep(0.5)
    drain = time.perf_counter() - drain_started
    await nc.close()
    return Step(target, rates["feed"], rates, messages, consumed, growth, backlog1, drain)


def feed_process(nats_url: str, logs: Path, index: int, rate: int) -> ServiceProcess:
    zones = len(PROOF_OF_CONCEPT_ZONES)
    speed = rate / zones * 15 * 60  # simulated seconds per second giving `rate` prices/s at PT15M
    # Each step simulates its own two years (a 15 s step at 20,000 prices/s covers 1.7 years of five
    # zones), so no step re-publishes another's prices; in the past, inside the plausible time window
    # (domain/plausibility.py), which refuses delivery starts more than 400 days ahead.
    start = datetime(2016 + 2 * index, 1, 1, tzinfo=UTC).isoformat()
    env = {
        "INTHEGRID_NATS_URL": nats_url,
        # One feed name for every step, as one MarketFeed whose rate changes: a new name per step left
        # the calculator holding each silent source's book (released after a horizon of silence),
        # which the peak RSS then measured.
        "INTHEGRID_FEED_NAME": "bench",
        "INTHEGRID_SIMULATOR_SPEED": str(speed),
        "INTHEGRID_SIMULATOR_TICK_SECONDS": "0.05",
        "INTHEGRID_SIMULATOR_START": start,
        "INTHEGRID_LOG_LEVEL": "WARNING",
    }
    return ServiceProcess(["feed"], env, logs / f"feed-{index}.log")


# --- the run ----------------------------------------------------------------------------------


def start_services(nats_url: str, database_url: str, logs: Path, http_port: int) -> dict[str, ServiceProcess]:
    common = {"INTHEGRID_NATS_URL": nats_url, "INTHEGRID_LOG_LEVEL": "WARNING"}
    procs = {
        "calculator": ServiceProcess(["calculator"], common, logs / "calculator.log"),
        "recorder": ServiceProcess(
            ["recorder"], {**common, "INTHEGRID_DATABASE_URL": database_url}, logs / "recorder.log"
        ),
        "gateway": ServiceProcess(
            ["gateway"],
            {
                **common,
                "INTHEGRID_DATABASE_URL": database_url,
                "INTHEGRID_HTTP_PORT": str(http_port),
                "INTHEGRID_DASHBOARD": "false",
            },
            logs / "gateway.log",
            metrics_port=0,
        ),
    }
    for proc in procs.values():
        proc.start(wait_ready=0)
    procs["calculator"].wait_ready()
    procs["recorder"].wait_ready()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            body = httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=2).json()
            if body.get("checks", {}).get("nats"):
                return procs
        time.sleep(0.2)
    raise TimeoutError(f"gateway not healthy:\n{procs['gateway'].log_tail()}")


def mb(value: int) -> str:
    return f"{value / 2**20:.0f} MB"


def report_latency(result: dict[str, float], seconds: float, peaks: dict[str, int]) -> None:
    p99 = result["p99"]
    print(
        f"\n[2] detection latency, price published -> opportunity on the gateway's SSE stream, "
        f"at {result['offered_rate']:,.0f} prices/s for {seconds:.0f} s "
        f"({result['opportunities']:,.0f} opportunities measured after {WARMUP_SECONDS:.0f} s warm-up; "
        f"{result['received']:,.0f}/{result['expected']:,.0f} received, "
        f"{result['reconnects']:.0f} SSE resumes after the gateway dropped events)"
    )
    print(
        f"    p50 {result['p50'] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"mean {result['mean'] * 1000:.1f} ms, max {result['max'] * 1000:.1f} ms "
        f"(goal p99 <= 25 ms: {'met' if p99 <= 0.025 else 'MISSED'})"
    )
    print(
        f"    of which price -> opportunity event on the bus (calculator): "
        f"p50 {result['bus_p50'] * 1000:.1f} ms, p99 {result['bus_p99'] * 1000:.1f} ms"
    )
    print(
        f"    proof of concept: up to {POC_BASELINE_WORST_S:.0f} s, mean ~{POC_BASELINE_MEAN_S:.0f} s; "
        f"ratio {POC_BASELINE_WORST_S / p99:,.0f}x (worst/p99), "
        f"{POC_BASELINE_MEAN_S / result['mean']:,.0f}x (mean/mean)"
    )
    print(f"    peak RSS: {', '.join(f'{k} {mb(v)}' for k, v in sorted(peaks.items()))}")


def report_throughput(steps: list[Step], seconds: float, raw: float, peaks: dict[str, int]) -> None:
    print(f"\n[3] throughput feed -> calculator -> recorder, {seconds:.0f} s per step")
    for s in steps:
        print(
            f"    target {s.target:>6,}/s: offered {s.offered:>8,.0f} prices/s in {s.messages:,.0f} msgs/s; "
            + "handled "
            + ", ".join(f"{k} {v:,.0f}/s" for k, v in s.rates.items() if k != "feed")
            + "; msgs acked "
            + ", ".join(f"{k} {v:,.0f}/s" for k, v in s.consumed.items())
            + "; backlog (msgs) growth "
            + ", ".join(f"{k} {v:+,.0f}/s" for k, v in s.growth.items())
            + f"; end backlog {max(s.final_backlog.values()):,}"
            + f"; drained in {s.drain_seconds:.1f} s -> {'flat' if s.flat else 'GROWING'}"
        )
    flat = [s.offered for s in steps if s.flat]
    best = max(flat) if flat else 0.0
    print(
        f"    max sustained rate with flat backlog: {best:,.0f} prices/s "
        f"(goal >= 20,000: {'met' if best >= 20_000 else 'MISSED'}); "
        f"raw JetStream baseline {raw:,.0f} msgs/s, ratio {best / raw:.2f} (prices/s over msgs/s)"
    )
    worst = max(peaks.values())
    print(
        "\n[4] peak RSS under the throughput load: "
        + ", ".join(f"{k} {mb(v)}" for k, v in sorted(peaks.items()))
        + f" (goal <= 150 MB each: {'met' if worst <= 150 * 2**20 else 'MISSED'})"
    )


async def run(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}; {stamp()}; {load()} at start")
    print(f"PostgreSQL durability {'off' if args.fast else 'on (PostgreSQL defaults)'}")
    with servers(args.fast) as (nats_server, pg), PeakMemory() as memory:
        logs = Path(nats_server.store_dir).parent / "logs"
        raw = await raw_baseline(nats_server.url, args.raw_messages)
        print(f"\n[1] raw nats-py JetStream publish_async + fetch/ack loop: {raw:,.0f} msgs/s")
        port = free_port()
        procs = start_services(nats_server.url, pg.url(), logs, port)
        try:
            for name, proc in procs.items():
                assert proc.process is not None
                memory.watch(name, proc.process.pid)
            if args.latency_seconds > 0:
                url = f"http://127.0.0.1:{port}"
                result = await latency(
                    nats_server.url, url, args.latency_rate, args.latency_seconds, args.opportunity_every
                )
                report_latency(result, args.latency_seconds, memory.peaks)
                print(f"    ({load()} after the latency run)")
            memory.reset()
            if args.stop_gateway:
                procs.pop("gateway").terminate()
                memory.forget("gateway")
            steps = []
            for index, rate in enumerate(args.rates):
                feed = feed_process(nats_server.url, logs, index, rate)
                steps.append(
                    await throughput_step(nats_server.url, feed, procs, rate, args.step_seconds, memory)
                )
            if steps:
                report_throughput(steps, args.step_seconds, raw, memory.peaks)
                print(f"    ({load()} after the throughput steps)")
        finally:
            for proc in procs.values():
                proc.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency-rate", type=int, default=1000, help="prices/s during the latency run")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="0 skips the latency run")
    parser.add_argument(
        "--opportunity-every",
        type=int,
        default=4,
        help="every N-th period opens four opportunities (1: every period, 800 events/s at 1,000 prices/s)",
    )
    parser.add_argument(
        "--rates",
        type=lambda s: [int(r) for r in s.split(",") if r],
        default=[2000, 3000, 5000, 20000],
        help="comma-separated target prices/s of the throughput steps ('' skips them)",
    )
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--raw-messages", type=int, default=100_000)
    parser.add_argument("--fast", action="store_true", help="turn PostgreSQL durability off")
    parser.add_argument(
        "--stop-gateway",
        action="store_true",
        help="stop the gateway before the throughput steps (not on the path)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
