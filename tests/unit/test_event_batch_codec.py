"""Opportunity event batches (bus contract v2): round trip, the v1 single-event form still accepted,
bounds (events and bytes), deterministic ids, one bad item rejected alone with its reason, whole-message
refusals."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inthegrid.domain.codec import MAX_MESSAGE_BYTES, encode_event, event_from_document
from inthegrid.domain.economics import is_opportunity, value_pair
from inthegrid.domain.event_batch_codec import (
    MAX_BATCH_EVENTS,
    SCHEMA_OPPORTUNITY_BATCH,
    decode_events,
    encode_event_batch,
    event_batch_message_id,
    group_event_batches,
)
from inthegrid.domain.opportunities import OpportunityBook, OpportunityEvent
from inthegrid.domain.prices import Market, Resolution
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.errors import DecodeError
from inthegrid.platform.bus import opportunity_subject
from inthegrid.platform.event_messages import event_messages

T0 = datetime(2025, 10, 1, tzinfo=UTC)
NOW = datetime(2025, 10, 1, 12, tzinfo=UTC)
RULE = proof_of_concept_rule()


def events(pair: tuple[str, str], count: int, spread: float = 30.0) -> list[OpportunityEvent]:
    """``count`` opened events of ``pair``, one per quarter hour from T0."""
    book = OpportunityBook(RULE.name, Market.DAY_AHEAD)
    out = []
    for i in range(count):
        value = value_pair(RULE.pairs[pair], 50.0, 50.0 + spread + i / 4, 0.25)
        event = book.observe(
            pair, T0 + timedelta(minutes=15 * i), Resolution.PT15M, value, is_opportunity(RULE, value), NOW
        )
        assert event is not None
        out.append(event)
    return out


def test_a_batch_round_trips_in_order_with_item_indexes():
    batch = events(("DE-LU", "FR"), 40)
    decoded = decode_events(encode_event_batch(batch), now=NOW)
    assert decoded.rejected == []
    assert decoded.events == list(enumerate(batch))


def test_the_old_single_event_form_is_still_accepted():
    event = events(("DE-LU", "FR"), 1)[0]
    decoded = decode_events(encode_event(event), now=NOW)
    assert decoded.events == [(0, event)] and decoded.rejected == []


def test_a_bad_single_event_is_refused_as_a_whole():
    doc = orjson.loads(encode_event(events(("DE-LU", "FR"), 1)[0]))
    doc["revision"] = 0
    with pytest.raises(DecodeError, match="revision"):
        decode_events(orjson.dumps(doc), now=NOW)


def test_grouping_splits_by_pair_count_and_bytes_and_each_batch_fits():
    de_fr, de_nl = events(("DE-LU", "FR"), 250), events(("DE-LU", "NL"), 3)
    mixed = [*de_fr[:10], *de_nl, *de_fr[10:]]
    batches = group_event_batches(mixed)
    assert [b.events for b in batches if b.events[0].pair == ("DE-LU", "NL")] == [de_nl]
    fr = [b.events for b in batches if b.events[0].pair == ("DE-LU", "FR")]
    assert [e for chunk in fr for e in chunk] == de_fr  # order kept, nothing lost or repeated
    assert all(len(b.events) <= MAX_BATCH_EVENTS and len(b.payload) <= MAX_MESSAGE_BYTES for b in batches)
    assert all(b.payload == encode_event_batch(b.events) for b in batches)
    # The byte bound splits too: a small bound gives more, smaller batches with the same events.
    small = group_event_batches(de_fr, max_bytes=8 * 1024)
    assert len(small) > len(fr) and all(len(b.payload) <= 8 * 1024 for b in small)
    assert [e for b in small for e in b.events] == de_fr


def test_encoding_refuses_what_breaks_the_contract():
    with pytest.raises(ValueError, match="1 to 100"):
        encode_event_batch([])
    with pytest.raises(ValueError, match="1 to 100"):
        encode_event_batch(events(("DE-LU", "FR"), MAX_BATCH_EVENTS + 1))
    with pytest.raises(ValueError, match="one rule, market and pair"):
        encode_event_batch([*events(("DE-LU", "FR"), 1), *events(("DE-LU", "NL"), 1)])


def test_message_ids_are_deterministic_and_follow_the_events():
    batch = events(("DE-LU", "FR"), 5)
    assert event_batch_message_id(batch) == event_batch_message_id(list(batch))
    assert event_batch_message_id(batch).startswith("events:")
    assert event_batch_message_id(batch) != event_batch_message_id(batch[:4])
    assert event_batch_message_id(batch) != event_batch_message_id(batch[::-1])
    # The same messages from the same events: a re-publish is dropped by JetStream's deduplication.
    assert event_messages(RULE.name, batch) == event_messages(RULE.name, batch)
    ((subject, payload, msg_id),) = event_messages(RULE.name, batch)
    assert subject == opportunity_subject(RULE.name, ("DE-LU", "FR"))
    assert payload == encode_event_batch(batch) and msg_id == event_batch_message_id(batch)


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        ({"revision": 0}, "revision"),
        ({"kind": "vanished"}, "vanished"),
        ({"delivery_start": "yesterday"}, "invalid opportunity event"),
        ({"resolution": "PT7M"}, "PT7M"),
        ({"detected_at": "2031-01-01T00:00:00Z"}, "future"),
        ({"value": "lots"}, "'value' must be an object"),
    ],
)
def test_a_bad_item_is_rejected_alone_with_its_reason(mutation, reason):
    batch = events(("DE-LU", "FR"), 3)
    doc = orjson.loads(encode_event_batch(batch))
    doc["items"][1].update(mutation)
    decoded = decode_events(orjson.dumps(doc), now=NOW)
    assert decoded.events == [(0, batch[0]), (2, batch[2])]
    ((rejected),) = decoded.rejected
    assert rejected.index == 1 and reason in rejected.reason
    alone = orjson.loads(rejected.data)  # a one-item batch holding just the item, for the dead letters
    assert alone["schema"] == SCHEMA_OPPORTUNITY_BATCH and alone["items"] == [doc["items"][1]]
    assert alone["pair"] == ["DE-LU", "FR"]


def test_an_item_that_is_not_an_object_is_rejected_alone():
    batch = events(("DE-LU", "FR"), 2)
    doc = orjson.loads(encode_event_batch(batch))
    doc["items"].append([1, 2, 3])
    decoded = decode_events(orjson.dumps(doc), now=NOW)
    assert [i for i, _ in decoded.events] == [0, 1]
    assert [(r.index, r.reason) for r in decoded.rejected] == [(2, "an item must be an object, not list")]


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        ({"schema": "inthegrid.opportunities.v3"}, "schema"),
        ({"rule": 7}, "'rule'"),
        ({"pair": ["DE-LU"]}, "'pair'"),
        ({"pair": ["DE-LU", "XX"]}, "XX"),
        ({"market": "spot"}, "spot"),
        ({"items": []}, "'items'"),
        ({"items": {"a": 1}}, "'items'"),
    ],
)
def test_a_message_that_is_not_a_batch_is_refused_whole(mutation, reason):
    doc = orjson.loads(encode_event_batch(events(("DE-LU", "FR"), 2)))
    doc.update(mutation)
    with pytest.raises(DecodeError, match=reason):
        decode_events(orjson.dumps(doc), now=NOW)


def test_too_many_items_or_bytes_are_refused_whole():
    doc = orjson.loads(encode_event_batch(events(("DE-LU", "FR"), 2)))
    doc["items"] = [{}] * 101  # counted before any item is read
    with pytest.raises(DecodeError, match="101 events exceeds 100"):
        decode_events(orjson.dumps(doc), now=NOW)
    with pytest.raises(DecodeError, match="exceeds"):
        decode_events(b" " * (MAX_MESSAGE_BYTES + 1), now=NOW)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_decode_error(data):
    try:
        decode_events(data, now=NOW)
    except DecodeError:
        pass


# Values an item's fields may take in a message from anyone: what the calculator writes and near misses.
_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from(["", "opened", "closed", "PT15M", "pt15m", "PT60M", "static", "FR", "CH", "spot"]),
    st.sampled_from(["2025-10-01T01:00:00Z", "2025-10-01T01:00:00+02:00", "2031-01-01T00:00:00Z", "noon"]),
    st.lists(st.sampled_from(["FR", "CH", "DE-LU", "XX", 3]), max_size=3),
)
_ITEM_FIELDS = ["kind", "delivery_start", "resolution", "revision", "detected_at", "value"]
_VALUE_FIELDS = [
    "buy_zone",
    "sell_zone",
    "buy_price",
    "sell_price",
    "net_eur_mwh",
    "cost_eur_mwh",
    "loss_factor",
    "path",
    "capacity_mw",
    "period_hours",
    "capacity_source",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_ITEM_FIELDS + _VALUE_FIELDS), _ODD_VALUES), max_size=3),
    st.booleans(),
)
def test_the_fast_item_decoder_agrees_with_the_full_one(changes, drop):
    # decode_events takes an item as a calculator writes it without event_from_document's per-field
    # checks: for any item, it must accept exactly what the full decoder accepts, as the same event.
    batch = events(("DE-LU", "FR"), 1)
    doc = orjson.loads(encode_event_batch(batch))
    item = doc["items"][0]
    for name, value in changes:
        target = item if name in _ITEM_FIELDS or not isinstance(item.get("value"), dict) else item["value"]
        if drop:
            target.pop(name, None)
        else:
            target[name] = value
    header = {k: doc[k] for k in ("rule", "market", "pair")}
    try:
        expected = [(0, event_from_document({**item, **header}, now=NOW))]
    except DecodeError:
        expected = []
    decoded = decode_events(orjson.dumps(doc), now=NOW)
    assert decoded.events == expected
    assert len(decoded.rejected) == 1 - len(expected)
