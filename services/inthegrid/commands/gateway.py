from __future__ import annotations

import argparse
from typing import Any

from inthegrid.commands import described, overrides

_OPTIONS = {
    "host": "http_host",
    "port": "http_port",
    "nats_url": "nats_url",
    "metrics_port": "metrics_port",
    "rate_limit": "rate_limit_per_minute",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gateway",
        help="serve the REST API, Server-Sent Events and the dashboard",
        **described(
            "Serve the REST API, Server-Sent Events, /metrics and the dashboard.",
            "inthegrid gateway --port 8000",
        ),
    )
    p.add_argument("--host", help="address to bind [INTHEGRID_HTTP_HOST]")
    p.add_argument("--port", type=int, help="port [INTHEGRID_HTTP_PORT]")
    p.add_argument("--nats-url", help="[INTHEGRID_NATS_URL]")
    p.add_argument("--database-url", help="PostgreSQL URL [INTHEGRID_DATABASE_URL]")
    p.add_argument("--metrics-port", type=int, help="[INTHEGRID_METRICS_PORT]")
    p.add_argument(
        "--rate-limit", type=int, help="requests per minute per client [INTHEGRID_RATE_LIMIT_PER_MINUTE]"
    )
    p.add_argument(
        "--no-dashboard", action="store_true", help="do not mount /dashboard [INTHEGRID_DASHBOARD]"
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from inthegrid.gateway.server import run_gateway
    from inthegrid.platform.runtime import run
    from inthegrid.platform.settings import GatewaySettings

    values = overrides(args, _OPTIONS)
    if args.database_url:
        values["database_url"] = args.database_url
    if args.no_dashboard:
        values["dashboard"] = False
    settings = GatewaySettings(**values)
    run("gateway", settings, lambda stop, health: run_gateway(settings, stop, health))
    return 0
