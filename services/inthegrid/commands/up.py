from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from inthegrid.commands import described


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
    from inthegrid.platform.logs import configure_logging

    configure_logging("up", os.environ.get("INTHEGRID_LOG_LEVEL", "INFO"), "text")
    zones = tuple(zone_code(z) for z in args.zones.split(",")) if args.zones else PROOF_OF_CONCEPT_ZONES
    options = UpOptions(
        data_dir=Path(args.data_dir or os.environ.get("INTHEGRID_DATA_DIR", ".inthegrid")).resolve(),
        http_port=args.port or int(os.environ.get("INTHEGRID_HTTP_PORT", "8000")),
        source=args.source,
        zones=zones,
        nats_url=os.environ.get("INTHEGRID_NATS_URL") or None,
        database_url=os.environ.get("INTHEGRID_DATABASE_URL") or None,
        dashboard=not args.no_dashboard,
    )
    asyncio.run(run_up(options))
    return 0
