"""docs/api-contract.md is generated from the models and routes, and the committed file is current."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from inthegrid.gateway.rest.openapi import OPERATION_IDS

ROOT = Path(__file__).resolve().parents[4]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_api_contract", ROOT / "scripts" / "generate_api_contract.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_contract_is_what_the_models_and_routes_generate() -> None:
    committed = (ROOT / "docs" / "api-contract.md").read_text(encoding="utf-8")
    assert committed == generator().render(), "stale: run .venv/bin/python scripts/generate_api_contract.py"


def test_the_contract_names_every_operation_stream_and_the_proof_of_concept_fields() -> None:
    text = generator().render()
    for (method, path), operation_id in OPERATION_IDS.items():
        assert f"### `{method} {path}`" in text and f"`{operation_id}`" in text
    for path in ("/api/ws/prices", "/api/ws/opportunities"):
        assert f"`WS {path}`" in text
    prices = text[text.index("### PricePublic") :]
    for field in ("market", "price", "timestamp"):  # the proof of concept's price fields
        assert f"| `{field}` |" in prices
    opportunity = text[text.index("### OpportunityPublic") :]
    for field in ("market_pair", "spread", "net_opportunity", "low_market", "high_market", "strategy"):
        assert f"| `{field}` |" in opportunity
