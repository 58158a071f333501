"""Render the README's configuration table from the settings classes, so it cannot drift.

    python tools/render_config_docs.py          # rewrite README.md between the markers
    python tools/render_config_docs.py --check  # exit 1 if README.md is out of date (a unit test runs this)
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- config:start -->", "<!-- config:end -->"
CLASSES = [
    ("all services", "inthegrid.platform.settings", "CommonSettings"),
    ("feed", "inthegrid.platform.settings", "FeedSettings"),
    ("calculator", "inthegrid.platform.settings", "CalculatorSettings"),
    ("recorder", "inthegrid.platform.settings", "RecorderSettings"),
    ("gateway", "inthegrid.platform.settings", "GatewaySettings"),
    ("up", "inthegrid.local.settings", "UpSettings"),
    ("up, tests (embedded)", "inthegrid.local.settings", "EmbeddedSettings"),
    ("operator", "inthegrid_operator.settings", "OperatorSettings"),
]
SECRET_HINT = ("token", "password", "api_keys", "webhook", "database_url")


def _default(field) -> str:  # type: ignore[no-untyped-def]
    if field.default_factory is not None:
        value = field.default_factory()
    else:
        value = field.default
    if value is None or value == []:
        return ""
    # A default is in the source for anyone to read: show it (the local database URL has no password).
    reveal = getattr(value, "get_secret_value", None)
    if reveal is not None:
        return str(reveal())
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def render() -> str:
    rows = ["| variable | used by | default | meaning |", "|---|---|---|---|"]
    seen: dict[str, str] = {}  # variable -> its default where first listed
    for who, module_name, class_name in CLASSES:
        try:
            cls: type[BaseSettings] = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            var = f"{prefix}{name}".upper()
            default = _default(field).replace("|", "\\|")
            # A variable shared by several settings classes is listed once, unless its default differs
            # there (the operator's NATS URL points at the in-cluster service, not at loopback).
            if seen.get(var) == default:
                continue
            seen.setdefault(var, default)
            meaning = (field.description or "").replace("|", "\\|")
            if any(h in name for h in SECRET_HINT):
                meaning += " (from a Kubernetes Secret or the environment; never logged)"
            rows.append(f"| `{var}` | {who} | {f'`{default}`' if default else ''} | {meaning} |")
    return "\n".join(rows)


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"README.md lacks the markers {START} ... {END}", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    updated = f"{head}{START}\n{render()}\n{END}{tail}"
    if "--check" in sys.argv:
        if updated != text:
            print("README.md configuration table is out of date: run python tools/render_config_docs.py",
                  file=sys.stderr)
            return 1
        return 0
    readme.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
