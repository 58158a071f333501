"""The document a calculator announces in the rules key-value bucket: the rule it runs.

``{"name": <rule name>, "spec": <ArbitrageRule spec, camelCase as users write it>}``. The calculator
encodes it at start; the gateway decodes it to know which rules run (and so which pairs to list).
Decoding is strict and raises only ``DecodeError``, so a watcher can skip a bad entry and go on.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from inthegrid.domain.rules import RuleSpec, parse_rule_spec
from inthegrid.errors import DecodeError, ValidationError


class RuleDocument(NamedTuple):
    name: str
    spec: RuleSpec


def encode_rule_document(name: str, spec: RuleSpec) -> bytes:
    return orjson.dumps({"name": name, "spec": spec.model_dump(by_alias=True, mode="json")})


def decode_rule_document(data: bytes, key: str | None = None) -> RuleDocument:
    """The rule in ``data``; a document without a name takes the bucket key's (older writers)."""
    try:
        doc: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"rule document is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError(f"rule document must be a JSON object, not {type(doc).__name__}")
    name = doc.get("name") or key
    if not isinstance(name, str) or not name:
        raise DecodeError("rule document has no name (and no key to take it from)")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise DecodeError(f"rule document {name!r} has no spec object")
    try:
        return RuleDocument(name, parse_rule_spec(spec))
    except ValidationError as exc:
        raise DecodeError(f"rule document {name!r}: {exc}") from None
