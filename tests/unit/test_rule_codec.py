"""The rules bucket's document: one codec, strict decoding that raises only DecodeError."""

from __future__ import annotations

import orjson
import pytest

from inthegrid.domain.rule_codec import decode_rule_document, encode_rule_document
from inthegrid.domain.rules import parse_rule_spec, proof_of_concept_rule
from inthegrid.errors import DecodeError


def test_a_rule_round_trips_with_its_name_and_camel_case_spec() -> None:
    rule = proof_of_concept_rule()
    data = encode_rule_document(rule.name, rule.spec)
    doc = orjson.loads(data)
    assert doc["name"] == rule.name and "costModel" in doc["spec"]  # as users write the spec
    decoded = decode_rule_document(data)
    assert decoded.name == rule.name and decoded.spec == rule.spec


def test_a_document_without_a_name_takes_the_key() -> None:
    spec = {"zones": ["DE", "FR"]}
    decoded = decode_rule_document(orjson.dumps({"spec": spec}), key="two-zones")
    assert decoded.name == "two-zones" and decoded.spec == parse_rule_spec(spec)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (orjson.dumps({"spec": {"zones": ["DE", "FR"]}}), "no name"),
        (orjson.dumps({"name": "r"}), "no spec object"),
        (orjson.dumps({"name": "r", "spec": {"zones": ["DE", "XX"]}}), "unknown bidding zone 'XX'"),
        (orjson.dumps({"name": "r", "spec": {"zones": ["DE"], "maxHops": 0}}), "rule document 'r'"),
    ],
    ids=["not-json", "not-object", "no-name", "no-spec", "bad-zone", "bad-field"],
)
def test_a_bad_document_is_a_decode_error_that_says_why(data: bytes, says: str) -> None:
    with pytest.raises(DecodeError, match=says):
        decode_rule_document(data)
