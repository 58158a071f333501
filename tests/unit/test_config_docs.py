"""The README's configuration table shows every setting with the default its class really has."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from pydantic import SecretStr

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import render_config_docs  # noqa: E402

ROW = re.compile(r"^\| `(?P<var>INTHEGRID_[A-Z0-9_]+)` \| (?P<who>[^|]+) \| (?P<default>[^|]*) \|")


def _rows() -> dict[tuple[str, str], str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split(render_config_docs.START, 1)[1].split(render_config_docs.END, 1)[0]
    rows: dict[tuple[str, str], str] = {}
    for line in table.splitlines():
        match = ROW.match(line)
        if match:
            rows[(match["var"], match["who"].strip())] = match["default"].strip().strip("`")
    return rows


def _shown(value: object) -> str:
    if value is None or value == []:
        return ""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def test_every_setting_is_listed_with_its_real_default() -> None:
    rows = _rows()
    for who, module_name, class_name in render_config_docs.CLASSES:
        cls = getattr(importlib.import_module(module_name), class_name)
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            var = f"{prefix}{name}".upper()
            default = _shown(field.default_factory() if field.default_factory else field.default)
            listed = {w: d for (v, w), d in rows.items() if v == var}
            assert listed, f"{var} ({class_name}) is not in the README's configuration table"
            # listed under this class, or under an earlier one with the very same default
            assert listed.get(who, default) == default or default in listed.values(), (var, who, listed)


def test_the_operator_points_children_at_the_in_cluster_nats() -> None:
    rows = _rows()
    assert rows[("INTHEGRID_NATS_URL", "operator")] == "nats://nats:4222"
    assert rows[("INTHEGRID_NATS_URL", "all services")] == "nats://127.0.0.1:4222"
    assert rows[("INTHEGRID_DATABASE_URL", "recorder")].startswith("postgresql://")
