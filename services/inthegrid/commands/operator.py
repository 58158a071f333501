"""``inthegrid operator``: run the kopf operator (MarketFeed and ArbitrageRule -> Deployments)."""

from __future__ import annotations

import argparse
from typing import Any

from inthegrid.commands import described


def register(sub: Any) -> None:
    p = sub.add_parser(
        "operator",
        help="reconcile MarketFeed and ArbitrageRule resources (kopf)",
        **described(
            "Reconcile MarketFeed and ArbitrageRule custom resources into feed and calculator "
            "Deployments (kopf).",
            "inthegrid operator --namespace inthegrid",
        ),
    )
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (default unless INTHEGRID_WATCH_NAMESPACE is set)",
    )
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        help="watch this namespace (repeatable) [INTHEGRID_WATCH_NAMESPACE]",
    )
    p.add_argument(
        "--liveness",
        default=None,
        help="kopf liveness endpoint (default http://0.0.0.0:<INTHEGRID_OPERATOR_LIVENESS_PORT>/healthz)",
    )
    p.add_argument("--log-format", choices=["json", "plain", "full"], default="json", help="kopf log format")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import kopf

    import inthegrid_operator.main  # noqa: F401 - registers the handlers with kopf
    from inthegrid_operator.settings import OperatorSettings

    settings = OperatorSettings()
    namespaces: list[str] = []
    if args.namespace:
        namespaces = list(args.namespace)
    elif not args.all_namespaces and settings.watch_namespace:
        namespaces = [settings.watch_namespace]
    liveness = args.liveness or f"http://0.0.0.0:{settings.operator_liveness_port}/healthz"
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()])
    # Standalone: one replica (the chart runs one, with a Recreate strategy), no peering CRDs.
    kopf.run(standalone=True, clusterwide=not namespaces, namespaces=namespaces, liveness_endpoint=liveness)
    return 0
