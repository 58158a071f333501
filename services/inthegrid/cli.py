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

from pydantic import ValidationError as SettingsError

from inthegrid import __version__, commands
from inthegrid.errors import ConfigError, InTheGridError, ValidationError

# Exit statuses: 2 for what the user gave (options, settings, input files), 1 for what went wrong
# while running (an upstream, the disk, a server), as argparse and most Unix tools do.
USAGE_ERROR, RUNTIME_ERROR = 2, 1
# Settings whose values must never be echoed back, even when invalid.
_SECRET_HINTS = ("token", "key", "secret", "password", "url", "dsn")


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


def describe_settings_error(exc: SettingsError) -> str:
    """One line per invalid setting, named as the user sets it (INTHEGRID_<NAME> or its option)."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        name = f"INTHEGRID_{field.upper()}" if field else exc.title
        message = str(error["msg"]).removeprefix("Value error, ")
        if field and not any(hint in field.lower() for hint in _SECRET_HINTS):
            message += f" (got {str(error.get('input'))[:80]!r})"
        problems.append(f"{name}: {message}")
    return "invalid settings: " + "; ".join(problems)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    name = f"inthegrid {args.command}"
    try:
        result = args.handler(args)
    except SettingsError as exc:
        print(f"{name}: error: {describe_settings_error(exc)}", file=sys.stderr)
        return USAGE_ERROR
    except (ConfigError, ValidationError) as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except InTheGridError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return RUNTIME_ERROR
    except ModuleNotFoundError as exc:  # an optional part (pyproject extra) that is not installed
        from inthegrid.platform.extras import describe_missing_module

        print(f"{name}: error: {describe_missing_module(exc)}", file=sys.stderr)
        return RUNTIME_ERROR
    except OSError as exc:
        print(f"{name}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return RUNTIME_ERROR
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
