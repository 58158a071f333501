from __future__ import annotations

import argparse
from typing import Any

from inthegrid.commands import described, overrides

_OPTIONS = {
    "database_url": "database_url",
    "batch": "recorder_batch",
    "flush_seconds": "recorder_flush_seconds",
    "writers": "recorder_writers",
    "nats_url": "nats_url",
    "metrics_port": "metrics_port",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "recorder",
        help="store prices and opportunity events from NATS in PostgreSQL",
        **described(
            "Store prices and opportunity events from NATS JetStream in PostgreSQL or TimescaleDB.",
            "INTHEGRID_DATABASE_URL=postgresql://inthegrid@localhost/inthegrid inthegrid recorder",
        ),
    )
    p.add_argument("--database-url", help="PostgreSQL URL [INTHEGRID_DATABASE_URL]")
    p.add_argument("--batch", type=int, help="rows per COPY batch [INTHEGRID_RECORDER_BATCH]")
    p.add_argument(
        "--flush-seconds", type=float, help="longest wait to fill a batch [INTHEGRID_RECORDER_FLUSH_SECONDS]"
    )
    p.add_argument(
        "--writers",
        type=int,
        help="batches per stream written at once, each in its own transaction [INTHEGRID_RECORDER_WRITERS]",
    )
    p.add_argument("--nats-url", help="[INTHEGRID_NATS_URL]")
    p.add_argument("--metrics-port", type=int, help="[INTHEGRID_METRICS_PORT]")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from inthegrid.platform.runtime import run
    from inthegrid.platform.settings import RecorderSettings
    from inthegrid.recorder.service import run_recorder

    settings = RecorderSettings(**overrides(args, _OPTIONS))
    run("recorder", settings, lambda stop, health: run_recorder(settings, stop, health))
    return 0
