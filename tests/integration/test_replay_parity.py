"""Parity: replaying a day of real prices through the live pipeline (replay feed -> JetStream ->
calculator) finds exactly the opportunities the vectorised backtest finds for that day."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import nats
import pytest

from inthegrid.backtest.engine import opportunities_frame, run_backtest
from inthegrid.backtest.manifest import load_rule
from inthegrid.calculator.shard_consumers import durable_name
from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.domain.opportunities import EventKind
from inthegrid.sources.table import read_table
from tests.support.processes import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
DAY = "2023-07-02"  # -500 EUR/MWh in DE-LU, NL and AT at midday: negative prices and wide spreads


async def _live_opportunities(
    nats_url: str, rule_name: str, prices: int, feed: ServiceProcess, timeout: float = 120
):
    """The final value of every opportunity the calculator published, read once it has handled every
    one of the ``prices`` the feed publishes (events are published before prices are acknowledged).
    The feed sends them in batches, so it is asked how many prices it published."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    final: dict[tuple[tuple[str, str], str], float | None] = {}
    try:
        async with asyncio.timeout(timeout):
            while feed.metric_value("inthegrid_feed_prices_published_total") < prices:
                await asyncio.sleep(0.1)
            last = (await js.stream_info("PRICES")).state.last_seq
            while True:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    info = await js.consumer_info("PRICES", durable_name(rule_name))
                    if info.delivered.stream_seq >= last and info.num_pending + info.num_ack_pending == 0:
                        break
                await asyncio.sleep(0.1)
            sub = await js.subscribe(f"inthegrid.opportunities.{rule_name}.>", ordered_consumer=True)
            while True:
                msg = await sub.next_msg(timeout=30)
                for _, event in decode_events(msg.data).events:
                    key = (event.pair, event.delivery_start.strftime("%Y-%m-%dT%H:%M:%SZ"))
                    final[key] = None if event.kind is EventKind.CLOSED else event.value.net_eur_mwh
                if msg.metadata.num_pending == 0:
                    break
    finally:
        await nc.close()
    return {k: v for k, v in final.items() if v is not None}


@pytest.mark.parametrize(
    "rule_file", ["arbitragerule-interconnected.yaml", "arbitragerule-proof-of-concept.yaml"]
)
async def test_replayed_day_equals_backtest(nats_url, tmp_path, rule_file):
    rule_path = ROOT / "k8s" / "examples" / rule_file
    rule = load_rule(rule_path)
    table = read_table(TABLE).between(DAY, DAY)
    expected_frame = opportunities_frame(run_backtest(table, rule), time_format="%Y-%m-%dT%H:%M:%SZ")
    expected = {
        (tuple(row.pair.split("/")), row.delivery_start): float(row.net_eur_mwh)
        for row in expected_frame.itertuples()
    }
    assert len(expected) > 10, "the chosen day must have opportunities"

    env = {"INTHEGRID_NATS_URL": nats_url}
    calculator = ServiceProcess(
        ["calculator"],
        {**env, "INTHEGRID_RULE_NAME": rule.name, "INTHEGRID_RULE_FILE": str(rule_path)},
        tmp_path / "calc.log",
    )
    feed = ServiceProcess(
        ["feed"],
        {
            **env,
            "INTHEGRID_FEED_SOURCE": "replay",
            "INTHEGRID_FEED_NAME": "replay",
            "INTHEGRID_REPLAY_PATH": str(TABLE),
            "INTHEGRID_REPLAY_FROM": DAY,
            "INTHEGRID_REPLAY_TO": DAY,
            "INTHEGRID_REPLAY_SPEED": str(86400 * 4),
            "INTHEGRID_FEED_ZONES": ",".join(rule.zones),
        },
        tmp_path / "feed.log",
    )
    calculator.start()
    feed.start()
    try:
        live = await _live_opportunities(
            nats_url,
            rule.name,
            int(table.frame[[z for z in rule.zones if z in table.frame]].count().sum()),
            feed,
        )
    finally:
        feed.terminate()
        calculator.terminate()
    assert live.keys() == expected.keys()
    assert live == pytest.approx(expected)


def test_the_sample_day_is_in_the_shipped_table():
    table = read_table(TABLE).between(DAY, DAY)
    assert len(table.frame) == 24
    assert table.frame.loc["2023-07-02T12:00:00Z", "DE-LU"] == -500.0  # SOURCES.md: DE_LU min -500.00
