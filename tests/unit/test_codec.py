"""Bus decoders: any byte string is a valid domain object or a clear DecodeError."""

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inthegrid.domain.codec import decode_event, decode_price, encode_event, encode_price
from inthegrid.domain.economics import is_opportunity, value_pair
from inthegrid.domain.opportunities import OpportunityBook
from inthegrid.domain.prices import Market, Resolution, make_price
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.errors import DecodeError

PRICE = make_price(
    "DE",
    "2025-10-01T10:15Z",
    -12.5,
    resolution=15,
    source="simulator",
    published_at="2025-10-01T08:00:00.123456Z",
)


def test_price_round_trip():
    assert decode_price(encode_price(PRICE)) == PRICE


def test_event_round_trip():
    rule = proof_of_concept_rule()
    value = value_pair(rule.pairs[("DE-LU", "FR")], 60, 80, 1.0)
    book = OpportunityBook(rule.name, Market.DAY_AHEAD)
    event = book.observe(
        ("DE-LU", "FR"),
        datetime(2025, 1, 1, tzinfo=UTC),
        Resolution.PT60M,
        value,
        is_opportunity(rule, value),
        datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ({"zone": "XX"}, "unknown bidding zone"),
        ({"price_eur_mwh": 5000}, "outside the limits"),
        ({"price_eur_mwh": "12"}, "'price_eur_mwh' has type str"),
        ({"price_eur_mwh": True}, "'price_eur_mwh' has type bool"),
        ({"schema": "other"}, "schema"),
        ({"resolution": "PT5M"}, "resolution"),
        ({"delivery_start": "2025-10-01T10:16:00Z"}, "not aligned"),
    ],
)
def test_bad_prices_are_rejected_with_the_reason(mutation, message):
    doc = orjson.loads(encode_price(PRICE))
    doc.update(mutation)
    with pytest.raises(DecodeError, match=message):
        decode_price(orjson.dumps(doc))


def test_missing_field_and_non_json():
    doc = orjson.loads(encode_price(PRICE))
    del doc["zone"]
    with pytest.raises(DecodeError, match="'zone' is missing"):
        decode_price(orjson.dumps(doc))
    with pytest.raises(DecodeError, match="not JSON"):
        decode_price(b"\xff\x00")
    with pytest.raises(DecodeError, match="exceeds"):
        decode_price(b" " * 70_000)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_decode_error(data):
    for decoder in (decode_price, decode_event):
        try:
            decoder(data)
        except DecodeError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "schema",
                "zone",
                "market",
                "delivery_start",
                "resolution",
                "price_eur_mwh",
                "source",
                "published_at",
                "kind",
                "pair",
                "revision",
                "value",
                "rule",
                "detected_at",
            ]
        ),
        json_values,
    )
)
def test_any_json_object_decodes_or_raises_decode_error(doc):
    base = orjson.loads(encode_price(PRICE))
    base.update(doc)
    for decoder in (decode_price, decode_event):
        try:
            decoder(orjson.dumps(base, option=orjson.OPT_NON_STR_KEYS))
        except DecodeError:
            pass
        except orjson.JSONEncodeError:
            pass
