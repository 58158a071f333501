"""Load the ArbitrageRule a backtest runs: the same YAML file a user applies with kubectl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inthegrid.domain.rules import CompiledRule, compile_rule, rule_from_manifest
from inthegrid.errors import ValidationError


def load_rule_manifests(path: str | Path) -> list[dict[str, Any]]:
    """Every ArbitrageRule document in a (possibly multi-document) YAML file."""
    path = Path(path)
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ValidationError(f"rule file {path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValidationError(f"rule file {path} is not YAML: {exc}") from None
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == "ArbitrageRule"]


def load_rule(path: str | Path, name: str | None = None) -> CompiledRule:
    """The one ArbitrageRule in ``path`` (or the one called ``name``), compiled."""
    manifests = load_rule_manifests(path)
    if name is not None:
        manifests = [m for m in manifests if (m.get("metadata") or {}).get("name") == name]
    if not manifests:
        which = f" named {name!r}" if name else ""
        raise ValidationError(f"rule file {path} has no ArbitrageRule{which}")
    if len(manifests) > 1:
        names = ", ".join(str((m.get("metadata") or {}).get("name")) for m in manifests)
        raise ValidationError(
            f"rule file {path} has several ArbitrageRules ({names}); choose one with --rule-name"
        )
    rule_name, spec = rule_from_manifest(manifests[0])
    return compile_rule(rule_name, spec)
