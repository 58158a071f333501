"""The ``inthegrid`` program: one subcommand per service and tool.

Each module in ``inthegrid.commands`` registers its own subcommand and imports its service only
when run, so ``inthegrid --help`` stays fast and a feed never loads the gateway.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from inthegrid import __version__, commands
from inthegrid.errors import InTheGridError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inthegrid",
        description="Cross-border electricity arbitrage detection. Settings come from INTHEGRID_* "
        "environment variables; command-line options override them.",
    )
    parser.add_argument("--version", action="version", version=f"inthegrid {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except InTheGridError as exc:
        print(f"inthegrid {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
