from __future__ import annotations

import argparse
from typing import Any

from inthegrid.commands import described, overrides
from inthegrid.domain.price_sources import SOURCE_NAMES

_OPTIONS = {
    "name": "feed_name",
    "zones": "feed_zones",
    "source": "feed_source",
    "market": "feed_market",
    "resolution": "feed_resolution",
    "seed": "simulator_seed",
    "volatility": "simulator_volatility",
    "speed": "simulator_speed",
    "tick": "simulator_tick_seconds",
    "replay_path": "replay_path",
    "replay_speed": "replay_speed",
    "nats_url": "nats_url",
    "metrics_port": "metrics_port",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "feed",
        help=f"publish prices from a source ({', '.join(SOURCE_NAMES)}) to NATS",
        **described(
            "Publish prices from a source (simulator, ENTSO-E or a replayed price table) to NATS JetStream.",
            "inthegrid feed --source simulator --zones DE-LU,FR,NL --speed 450",
        ),
    )
    p.add_argument("--name", help="feed name [INTHEGRID_FEED_NAME]")
    p.add_argument("--zones", help="comma-separated zones [INTHEGRID_FEED_ZONES]")
    p.add_argument("--source", choices=SOURCE_NAMES, help="[INTHEGRID_FEED_SOURCE]")
    p.add_argument(
        "--market", choices=["day_ahead", "intraday", "ida1", "ida2", "ida3"], help="[INTHEGRID_FEED_MARKET]"
    )
    p.add_argument("--resolution", choices=["PT15M", "PT60M"], help="[INTHEGRID_FEED_RESOLUTION]")
    p.add_argument("--seed", type=int, help="simulator seed [INTHEGRID_SIMULATOR_SEED]")
    p.add_argument("--volatility", type=float, help="[INTHEGRID_SIMULATOR_VOLATILITY]")
    p.add_argument("--speed", type=float, help="simulated seconds per second [INTHEGRID_SIMULATOR_SPEED]")
    p.add_argument(
        "--tick", type=float, help="simulator wake-up interval, s [INTHEGRID_SIMULATOR_TICK_SECONDS]"
    )
    p.add_argument("--replay-path", help="price table to replay [INTHEGRID_REPLAY_PATH]")
    p.add_argument("--replay-speed", type=float, help="[INTHEGRID_REPLAY_SPEED]")
    p.add_argument("--nats-url", help="[INTHEGRID_NATS_URL]")
    p.add_argument("--metrics-port", type=int, help="[INTHEGRID_METRICS_PORT]")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from inthegrid.feed.service import run_feed
    from inthegrid.platform.runtime import run
    from inthegrid.platform.settings import FeedSettings

    settings = FeedSettings(**overrides(args, _OPTIONS))
    run(f"feed-{settings.feed_name}", settings, lambda stop, health: run_feed(settings, stop, health))
    return 0
