from __future__ import annotations

import argparse
import asyncio
from typing import Any

from inthegrid.commands import described, overrides


def register(sub: Any) -> None:
    p = sub.add_parser(
        "up",
        help="run the whole platform locally (embedded NATS and PostgreSQL by default)",
        **described(
            "Run the whole platform locally: embedded NATS and PostgreSQL, a feed, a calculator, the "
            "recorder and the gateway.",
            "inthegrid up --source replay:data/prices/day_ahead_prices_hourly_2020_2024_utc.csv.gz",
        ),
    )
    p.add_argument(
        "--source",
        default="simulator",
        help="'simulator' (default) or 'replay:PATH' to stream a price table through the pipeline",
    )
    p.add_argument("--zones", default=None, help="comma-separated zones (default DE-LU,FR,NL,BE,AT)")
    p.add_argument("--data-dir", default=None, help="where embedded servers keep data [INTHEGRID_DATA_DIR]")
    p.add_argument("--port", type=int, default=None, help="gateway port [INTHEGRID_HTTP_PORT, default 8000]")
    p.add_argument("--no-dashboard", action="store_true", help="do not mount the Gradio dashboard")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from inthegrid.domain.rules import PROOF_OF_CONCEPT_ZONES
    from inthegrid.domain.zones import zone_code
    from inthegrid.local.launcher import UpOptions, run_up
    from inthegrid.local.settings import EmbeddedSettings, UpSettings
    from inthegrid.platform.logs import configure_logging

    settings = UpSettings(**overrides(args, {"data_dir": "data_dir", "port": "http_port"}))
    EmbeddedSettings()  # validated before any server starts: a bad value is a usage error, not a crash
    configure_logging("up", settings.log_level, "text")
    zones = tuple(zone_code(z) for z in args.zones.split(",")) if args.zones else PROOF_OF_CONCEPT_ZONES
    options = UpOptions(
        data_dir=settings.data_dir.resolve(),
        http_port=settings.http_port,
        source=args.source,
        zones=zones,
        nats_url=settings.nats_url,
        database_url=settings.database_url.get_secret_value() if settings.database_url else None,
        dashboard=not args.no_dashboard,
    )
    asyncio.run(run_up(options))
    return 0
