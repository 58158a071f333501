from __future__ import annotations

import argparse
from typing import Any

from inthegrid.commands import described, overrides

_OPTIONS = {
    "rule_name": "rule_name",
    "rule_file": "rule_file",
    "nats_url": "nats_url",
    "metrics_port": "metrics_port",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calculator",
        help="detect opportunities for one rule from the prices on NATS",
        **described(
            "Consume prices from NATS JetStream for one rule and publish opportunity events.",
            "inthegrid calculator --rule-file tests/fixtures/rules/proof-of-concept.yaml",
        ),
    )
    p.add_argument("--rule-name", help="rule name [INTHEGRID_RULE_NAME]")
    p.add_argument(
        "--rule-file", help="ArbitrageRule YAML (default: the proof of concept's rule) [INTHEGRID_RULE_FILE]"
    )
    p.add_argument("--nats-url", help="[INTHEGRID_NATS_URL]")
    p.add_argument("--metrics-port", type=int, help="[INTHEGRID_METRICS_PORT]")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from inthegrid.calculator.service import run_calculator
    from inthegrid.platform.runtime import run
    from inthegrid.platform.settings import CalculatorSettings

    settings = CalculatorSettings(**overrides(args, _OPTIONS))
    run(
        f"calculator-{settings.rule_name}",
        settings,
        lambda stop, health: run_calculator(settings, stop, health),
    )
    return 0
