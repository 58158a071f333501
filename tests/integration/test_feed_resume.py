"""A SIGKILLed simulator feed resumes where it stopped and never rewrites a stored price.

The feed runs as `inthegrid up` runs it: without a start setting simulated time starts at "now"
(floored to the period), so a process restarted in a later wall-clock period would start a different
simulation if it did not resume from its checkpoint (it then re-simulated, with different values,
periods already stored: 235 prices were rewritten in the field). The restart here is given the next
period's start, as a restart 15 minutes later would compute it. Every stored price is compared before
the kill and after the restarted feed has published well past the kill point.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from inthegrid.domain.prices import Resolution, floor_to_period
from inthegrid.platform.bus import PRICES_STREAM
from tests.support.faults import ZONES, Monitor, recorder_process, wait_for
from tests.support.processes import ServiceProcess

FEED = "resume"
# 3600 simulated seconds per second: four 15-minute periods a second, so the kill and the downtime
# always straddle period boundaries of the wall clock and of the simulated clock.
SPEED = 3600.0

RECORDED = (PRICES_STREAM, "recorder-prices")
Stored = dict[tuple[str, datetime], tuple[float, datetime]]


def _feed(tmp: Path, nats_url: str, start: datetime) -> ServiceProcess:
    return ServiceProcess(
        ["feed"],
        {
            "INTHEGRID_NATS_URL": nats_url,
            "INTHEGRID_FEED_NAME": FEED,
            "INTHEGRID_FEED_SOURCE": "simulator",
            "INTHEGRID_FEED_ZONES": ",".join(ZONES),
            "INTHEGRID_FEED_RESOLUTION": "PT15M",
            "INTHEGRID_SIMULATOR_SPEED": str(SPEED),
            "INTHEGRID_SIMULATOR_TICK_SECONDS": "0.1",
            "INTHEGRID_SIMULATOR_START": start.isoformat(),
        },
        tmp / "feed.log",
    )


async def _stored(conn: asyncpg.Connection) -> Stored:
    rows = await conn.fetch(
        "SELECT zone, delivery_start, price_eur_mwh, published_at FROM prices WHERE source = $1", FEED
    )
    return {(r["zone"], r["delivery_start"]): (float(r["price_eur_mwh"]), r["published_at"]) for r in rows}


async def test_sigkilled_feed_resumes_and_rewrites_nothing(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    monitor = await Monitor.connect(nats_url)
    recorder = recorder_process(tmp_path, nats_url, database_url).start()
    now = floor_to_period(datetime.now(UTC), Resolution.PT15M)
    feed = _feed(tmp_path, nats_url, now).start()
    conn = await asyncpg.connect(database_url)
    try:

        async def some_periods_stored() -> bool:
            return len(await _stored(conn)) >= 20 * len(ZONES)

        await wait_for(some_periods_stored, 60, "20 periods stored")
        feed.kill()
        targets = await monitor.targets()
        await monitor.wait_caught_up({k: v for k, v in targets.items() if k == RECORDED}, 60, "recorder")
        before = await _stored(conn)
        last_before = max(start for _, start in before)

        feed = _feed(tmp_path, nats_url, now + timedelta(minutes=15)).start()

        async def well_past_the_kill() -> bool:
            stored = await _stored(conn)
            return max(start for _, start in stored) >= last_before + timedelta(minutes=15 * 20)

        await wait_for(well_past_the_kill, 60, "20 more periods after the restart")
        feed.kill()
        targets = await monitor.targets()
        await monitor.wait_caught_up({k: v for k, v in targets.items() if k == RECORDED}, 60, "recorder")
        after = await _stored(conn)
    finally:
        await conn.close()
        feed.kill()
        recorder.terminate()
        await monitor.close()

    rewritten = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
    assert not rewritten, f"{len(rewritten)} stored prices changed, e.g. {list(rewritten.items())[:3]}"
    # Resumed where it stopped: every period from the first to the last, of every zone, exactly once.
    starts = sorted({start for _, start in after})
    step = timedelta(minutes=15)
    assert all(b - a == step for a, b in itertools.pairwise(starts)), "a gap or a jump in periods"
    assert len(after) == len(starts) * len(ZONES)
