from __future__ import annotations

import argparse
from typing import Any

from inthegrid.commands import described, overrides

_OPTIONS = {
    "api": "dashboard_api_url",
    "api_key": "dashboard_api_key",
    "host": "dashboard_host",
    "port": "dashboard_port",
    "refresh": "dashboard_refresh_seconds",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "dashboard",
        help="serve the Gradio dashboard on its own, reading a gateway's API",
        **described(
            "Serve the Gradio dashboard on its own; it reads everything from a gateway's REST API.",
            "inthegrid dashboard --api http://127.0.0.1:8000",
        ),
    )
    p.add_argument("--api", help="gateway base URL, e.g. http://127.0.0.1:8000 [INTHEGRID_DASHBOARD_API_URL]")
    p.add_argument("--api-key", help="API key for the gateway [INTHEGRID_DASHBOARD_API_KEY]")
    p.add_argument("--host", help="address to bind [INTHEGRID_DASHBOARD_HOST]")
    p.add_argument("--port", type=int, help="port to bind [INTHEGRID_DASHBOARD_PORT]")
    p.add_argument(
        "--refresh", type=float, help="seconds between refreshes [INTHEGRID_DASHBOARD_REFRESH_SECONDS]"
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from inthegrid.dashboard.app import build_dashboard
    from inthegrid.platform.logs import configure_logging
    from inthegrid.platform.settings import DashboardSettings

    settings = DashboardSettings(**overrides(args, _OPTIONS))
    configure_logging("dashboard", settings.log_level, settings.log_format)
    key = settings.dashboard_api_key.get_secret_value() if settings.dashboard_api_key else None
    demo = build_dashboard(
        settings.dashboard_api_url, api_key=key, refresh_seconds=settings.dashboard_refresh_seconds
    )
    demo.queue(default_concurrency_limit=None)
    demo.launch(server_name=settings.dashboard_host, server_port=settings.dashboard_port, show_error=True)
    return 0
