"""Price batches (bus contract v2): round trip, the v1 single-price form still accepted, one bad item
rejected alone, whole-message refusals, deterministic ids and the grouping feeds use."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inthegrid.domain.batch_codec import (
    MAX_BATCH_PRICES,
    SCHEMA_PRICE_BATCH,
    batch_message_id,
    decode_price_fields,
    decode_prices,
    encode_price_batch,
    group_price_batches,
)
from inthegrid.domain.codec import encode_price, make_price_fast
from inthegrid.domain.plausibility import DEFAULT_WINDOW, check_price
from inthegrid.domain.prices import DEFAULT_LIMITS, Market, Price, make_price
from inthegrid.errors import DecodeError, InTheGridError
from inthegrid.recorder.rows import build_price_row, build_price_rows

NOW = datetime(2025, 10, 2, tzinfo=UTC)
PUBLISHED = "2025-10-01T08:00:00Z"
T0 = datetime(2025, 10, 1, tzinfo=UTC)


def prices(zone: str, count: int, first: int = 0, value: float = 50.0) -> list[Price]:
    return [
        make_price(
            zone,
            T0 + timedelta(minutes=15 * i),
            value + i / 4,
            resolution=15,
            source="simulator",
            published_at="2025-10-01T08:00:00.123456Z",
        )
        for i in range(first, first + count)
    ]


def test_a_batch_round_trips_in_order_with_item_indexes():
    batch = prices("DE-LU", 96)
    decoded = decode_prices(encode_price_batch(batch), now=NOW)
    assert decoded.rejected == []
    assert decoded.prices == list(enumerate(batch))


def test_the_old_single_price_form_is_still_accepted():
    price = prices("FR", 1)[0]
    decoded = decode_prices(encode_price(price), now=NOW)
    assert decoded.prices == [(0, price)] and decoded.rejected == []


def test_a_bad_single_price_is_refused_as_a_whole():
    doc = orjson.loads(encode_price(prices("FR", 1)[0]))
    doc["zone"] = "XX"
    with pytest.raises(DecodeError, match="XX"):
        decode_prices(orjson.dumps(doc), now=NOW)


def test_one_bad_item_is_rejected_alone_with_its_reason():
    batch = prices("NL", 4)
    doc = orjson.loads(encode_price_batch(batch))
    doc["items"][1][1] = 99_999.0  # beyond the price limits
    doc["items"][2][0] = "9999-12-31T23:45:00Z"  # implausible delivery start
    doc["items"][3] = ["2025-10-01T00:45:00Z"]  # malformed item
    decoded = decode_prices(orjson.dumps(doc), now=NOW)
    assert decoded.prices == [(0, batch[0])]
    assert [r.index for r in decoded.rejected] == [1, 2, 3]
    reasons = [r.reason for r in decoded.rejected]
    assert "99999" in reasons[0]
    assert "9999" in reasons[1]
    assert "item must be" in reasons[2]
    # What is kept for the dead-letter stream is the item alone, under the batch's header.
    alone = orjson.loads(decoded.rejected[0].data)
    assert alone["items"] == [doc["items"][1]]
    assert {k: alone[k] for k in ("schema", "zone", "market", "resolution", "source")} == {
        "schema": SCHEMA_PRICE_BATCH,
        "zone": "NL",
        "market": "day_ahead",
        "resolution": "PT15M",
        "source": "simulator",
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(items=[]), "non-empty list"),
        (lambda d: d.pop("items"), "non-empty list"),
        (lambda d: d.update(zone=5), "'zone'"),
        (lambda d: d.pop("source"), "'source'"),
        (lambda d: d.update(schema="inthegrid.prices.v3"), "schema"),
        (lambda d: d.update(resolution="PT7M"), "PT7M"),
        (lambda d: d.update(market="futures"), "futures"),
        (lambda d: d.update(source=""), "source"),
        (lambda d: d.update(items=d["items"] * (MAX_BATCH_PRICES + 1)), "exceeds"),
    ],
)
def test_a_message_that_is_not_a_batch_is_refused_as_a_whole(mutate, message):
    doc = orjson.loads(encode_price_batch(prices("BE", 1)))
    mutate(doc)
    with pytest.raises(DecodeError, match=message):
        decode_prices(orjson.dumps(doc), now=NOW)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_prices_or_a_decode_error(data):
    try:
        decode_prices(data, now=NOW)
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=30), st.floats()), max_size=5
    )
)
def test_any_item_is_a_price_or_rejected_never_an_exception(item):
    doc = orjson.loads(encode_price_batch(prices("AT", 1)))
    doc["items"].append(item)
    decoded = decode_prices(orjson.dumps(doc), now=NOW)
    assert len(decoded.prices) + len(decoded.rejected) == 2


def test_an_item_is_checked_like_a_single_price():
    """The batch's fast path gives what make_price gives, and refuses what it refuses."""
    doc = orjson.loads(encode_price_batch(prices("FR", 2)))
    doc["items"].append(["2025-10-01T02:00:00+02:00", 12.345, "2025-10-01T08:00:00Z"])  # an offset: UTC 00:00
    doc["items"].append(["2025-10-01T00:15:30Z", 1.0, "2025-10-01T08:00:00Z"])  # not aligned
    doc["items"].append(["2025-10-01T00:15:00", 1.0, "2025-10-01T08:00:00Z"])  # no time zone
    doc["items"].append(["yesterday", 1.0, "2025-10-01T08:00:00Z"])
    decoded = decode_prices(orjson.dumps(doc), now=NOW)
    assert decoded.prices[2] == (
        2,
        make_price(
            "FR", "2025-10-01T00:00Z", 12.345, resolution=15, source="simulator", published_at=PUBLISHED
        ),
    )
    reasons = [r.reason for r in decoded.rejected]
    assert [r.index for r in decoded.rejected] == [3, 4, 5]
    assert "not aligned" in reasons[0] and "time zone" in reasons[1] and "ISO 8601" in reasons[2]


_STARTS = st.sampled_from(
    [
        "2025-10-01T00:00:00Z",
        "2025-10-01T00:15:00Z",
        "2025-10-01T00:20:00Z",  # not aligned to a quarter-hour
        "2014-12-31T23:45:00Z",  # before the earliest plausible delivery
        "2026-12-01T00:00:00Z",  # more than the window's lead after NOW
        "2025-10-01T01:00:00+01:00",
    ]
)
_PUBLISHED = st.sampled_from(
    ["2025-10-01T08:00:00Z", "2025-10-02T00:04:59Z", "2025-10-02T00:05:01Z", "2025-10-02T03:00:00+02:00"]
)
_VALUES = st.one_of(
    st.floats(-700.0, 4_100.0),
    st.sampled_from([-500.0, -500.01, 4_000.0, 4_000.01, 2.675, 0.125, 1e308, -1e308]),
    st.integers(-1_000, 5_000),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_STARTS, _VALUES, _PUBLISHED), min_size=1, max_size=8), st.booleans())
def test_the_fast_path_gives_what_make_price_and_check_price_give(items, intraday):
    """Per-message bounds and messages built only on refusal: each item is still the price make_price
    makes and check_price lets through, or rejected with the reason they give."""
    header = {
        "zone": "FR",
        "market": "intraday" if intraday else "day_ahead",
        "resolution": "PT15M",
        "source": "simulator",
    }
    doc = {"schema": SCHEMA_PRICE_BATCH, **header, "items": [list(i) for i in items]}
    decoded = decode_prices(orjson.dumps(doc), now=NOW)
    good, rejected = dict(decoded.prices), {r.index: r.reason for r in decoded.rejected}
    for index, (start, value, published) in enumerate(items):
        try:
            price = make_price_fast(header, start, value, published, DEFAULT_LIMITS)
            check_price(DEFAULT_WINDOW, price, NOW)
        except InTheGridError as exc:
            assert rejected[index] == str(exc)
        else:
            assert good[index] == price


def test_rows_from_fields_are_the_rows_of_the_prices():
    """The recorder's path (fields to rows, no Price objects) stores what the Price path stored."""
    values = [0.125, 2.675, -0.005, 61.2349, 3999.995, -499.994, 1.0 / 3]
    batch = [
        make_price("NL", T0 + timedelta(minutes=15 * i), v, resolution=15, source="s", published_at=PUBLISHED)
        for i, v in enumerate(values)
    ]
    fields = decode_price_fields(encode_price_batch(batch), now=NOW)
    assert build_price_rows(fields.prices, 7) == [build_price_row(p, 7) for p in batch]
    assert fields.as_prices() == decode_prices(encode_price_batch(batch), now=NOW)


def test_a_former_zone_is_read_by_its_date():
    doc = orjson.loads(encode_price_batch(prices("DE-LU", 1)))
    doc["zone"] = "DE-AT-LU"
    doc["items"] = [["2018-09-30T21:00:00Z", 50.0, "2018-09-29T12:00:00Z"]]
    decoded = decode_prices(orjson.dumps(doc), now=NOW)
    assert [p.zone for _, p in decoded.prices] == ["DE-AT-LU"]


def test_the_batch_id_is_deterministic_and_a_correction_changes_it():
    batch = prices("PL", 8)
    assert batch_message_id(batch) == batch_message_id(prices("PL", 8))
    corrected = [*batch[:-1], prices("PL", 1, first=7, value=80.0)[0]]
    assert batch_message_id(corrected) != batch_message_id(batch)
    assert batch_message_id(batch[:4]) != batch_message_id(batch)


def test_grouping_keeps_one_zone_market_and_source_per_batch_and_bounds_its_size():
    mixed = [*prices("DE-LU", 3), *prices("FR", 2), *prices("DE-LU", 600, first=3)]
    batches = group_price_batches(mixed)
    assert [(b[0].zone, len(b)) for b in batches] == [("DE-LU", 500), ("DE-LU", 103), ("FR", 2)]
    assert sorted(p.message_id for b in batches for p in b) == sorted(p.message_id for p in mixed)
    intraday = make_price("FR", T0, 40.0, resolution=15, market=Market.IDA1, source="simulator")
    assert len(group_price_batches([*prices("FR", 1), intraday])) == 2


def test_encoding_refuses_a_mixed_or_oversized_batch():
    with pytest.raises(ValueError, match="one market, zone"):
        encode_price_batch([*prices("FR", 1), *prices("BE", 1)])
    with pytest.raises(ValueError, match="1 to"):
        encode_price_batch([])
    with pytest.raises(ValueError, match="1 to"):
        encode_price_batch(prices("FR", MAX_BATCH_PRICES + 1))
