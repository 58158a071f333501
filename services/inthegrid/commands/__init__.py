"""Subcommands of the ``inthegrid`` program, one module each, each with ``register(subparsers)``."""

from __future__ import annotations

import argparse
from typing import Any


def overrides(args: argparse.Namespace, mapping: dict[str, str]) -> dict[str, Any]:
    """Settings keyword arguments from the options the user actually gave (None = not given)."""
    return {
        field: getattr(args, dest) for dest, field in mapping.items() if getattr(args, dest, None) is not None
    }
