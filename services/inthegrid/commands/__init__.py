"""Subcommands of the ``inthegrid`` program, one module each, each with ``register(subparsers)``."""

from __future__ import annotations

import argparse
from typing import Any


def overrides(args: argparse.Namespace, mapping: dict[str, str]) -> dict[str, Any]:
    """Settings keyword arguments from the options the user actually gave (None = not given)."""
    return {
        field: getattr(args, dest) for dest, field in mapping.items() if getattr(args, dest, None) is not None
    }


def described(description: str, example: str) -> dict[str, Any]:
    """add_parser() keywords for a subcommand's help: what it does, then an example to copy."""
    return {
        "description": description,
        "epilog": f"example:\n  {example}",
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
