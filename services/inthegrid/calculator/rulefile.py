"""Loading the rule a calculator runs: an ArbitrageRule manifest (as applied with kubectl, or as
the operator's ConfigMap holds it), a bare spec, or the proof of concept's rule by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inthegrid.domain.rules import CompiledRule, compile_rule, parse_rule_spec, proof_of_concept_rule
from inthegrid.errors import ConfigError, ValidationError


def load_rule(name: str, path: Path | None) -> CompiledRule:
    if path is None:
        rule = proof_of_concept_rule()
        return compile_rule(name, rule.spec) if name != rule.name else rule
    try:
        doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read rule file {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"rule file {path} does not hold a mapping")
    spec = doc.get("spec", doc) if ("spec" in doc or "kind" in doc) else doc
    manifest_name = (doc.get("metadata") or {}).get("name") or doc.get("name")
    try:
        parsed = parse_rule_spec(spec)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return compile_rule(name or str(manifest_name), parsed)
