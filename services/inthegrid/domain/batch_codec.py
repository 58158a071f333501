"""Price batches on the bus (contract v2): several prices of one zone in one message.

The ``schema`` field is the contract's version: ``inthegrid.price.v1`` is one price per message
(``codec.encode_price``), ``inthegrid.prices.v2`` a batch. Decoders take both, so during a rolling
upgrade an old feed's messages are still consumed.

A batch carries what its prices share once (zone, market, resolution, source) and one compact item
per price, ``[delivery_start, price_eur_mwh, published_at]``, in the order the source produced
them. One zone per batch keeps the per-zone subjects (``inthegrid.prices.<market>.<zone>``) true
for every price in it, so consumers' subject filters and per-feed permissions work unchanged.

Each item is validated on its own: a malformed or implausible item is rejected alone (with its
index, reason and a one-item batch holding just it, for the dead-letter stream) and the others
are still delivered. Only a message that is not a batch at all (not JSON, unknown schema, no
items, a header field of the wrong type) is refused as a whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from math import isfinite
from typing import Any

import orjson

from inthegrid.domain.codec import (
    MAX_MESSAGE_BYTES,
    SCHEMA_PRICE,
    decode_price,
    format_time,
    make_price_fast,
)
from inthegrid.domain.plausibility import DEFAULT_WINDOW, TimeWindow, check_price, check_price_times
from inthegrid.domain.prices import (
    DEFAULT_LIMITS,
    Market,
    Price,
    PriceLimits,
    Resolution,
    as_utc,
)
from inthegrid.domain.utc_text import parse_iso
from inthegrid.domain.zones import zone_code
from inthegrid.errors import DecodeError, InTheGridError, UnknownZoneError, ValidationError

SCHEMA_PRICE_BATCH = "inthegrid.prices.v2"
# At most this many prices per message: a week of quarter hours is 672, so a day-ahead result
# (96 periods) fits in one; 500 compact items stay near 30 KiB, well inside MAX_MESSAGE_BYTES.
MAX_BATCH_PRICES = 500
# Positions (stream sequence x this + item index) number each price of every message uniquely and
# in order; a power of two above MAX_BATCH_PRICES (the gateway's SSE ids are positions).
POSITIONS_PER_MESSAGE = 1024

BatchKey = tuple[str, str, int, str]


@dataclass(frozen=True, slots=True)
class RejectedItem:
    index: int
    reason: str
    data: bytes  # a one-item batch holding just the rejected item, as it arrived


# A good item's Price fields, in Price's order (``Price(*fields)`` is the price): zone, delivery
# start, resolution, market, EUR/MWh, source, published at. A consumer that only stores prices (the
# recorder) makes its rows from these, without a Price object per item.
PriceFields = tuple[str, datetime, Resolution, Market, float, str, datetime]


@dataclass(frozen=True, slots=True)
class DecodedPrices:
    """What one message yields: the good prices with their item index, and the rejected items."""

    prices: list[tuple[int, Price]]
    rejected: list[RejectedItem]


@dataclass(frozen=True, slots=True)
class DecodedPriceFields:
    """``DecodedPrices`` before any Price is made: each good item's index and ``PriceFields``."""

    prices: list[tuple[int, PriceFields]]
    rejected: list[RejectedItem]

    def as_prices(self) -> DecodedPrices:
        return DecodedPrices([(index, Price(*fields)) for index, fields in self.prices], self.rejected)


def fields_of(price: Price) -> PriceFields:
    return (
        price.zone,
        price.delivery_start,
        price.resolution,
        price.market,
        price.eur_mwh,
        price.source,
        price.published_at,
    )


def batch_key(price: Price) -> BatchKey:
    """What the prices of one batch share."""
    return (price.market.value, price.zone, int(price.resolution), price.source)


def group_price_batches(prices: Iterable[Price], max_items: int = MAX_BATCH_PRICES) -> list[list[Price]]:
    """The prices split into batches of one ``batch_key`` each, at most ``max_items`` long, in
    first-seen order of the keys and source order within each."""
    groups: dict[BatchKey, list[Price]] = {}
    for price in prices:
        groups.setdefault(batch_key(price), []).append(price)
    return [group[i : i + max_items] for group in groups.values() for i in range(0, len(group), max_items)]


def batch_message_id(prices: Sequence[Price]) -> str:
    """Deterministic: the same prices in the same order give the same id, so a re-published batch is
    dropped by JetStream; a correction (a changed value) is part of its price's id, hence a new one."""
    digest = hashlib.sha256("\n".join(p.message_id for p in prices).encode()).hexdigest()
    return f"prices:{digest[:40]}"


def encode_price_batch(prices: Sequence[Price]) -> bytes:
    if not prices or len(prices) > MAX_BATCH_PRICES:
        raise ValueError(f"a price batch holds 1 to {MAX_BATCH_PRICES} prices, not {len(prices)}")
    first = prices[0]
    key = batch_key(first)
    if any(batch_key(p) != key for p in prices):
        raise ValueError("a price batch holds prices of one market, zone, resolution and source")
    return orjson.dumps(
        {
            "schema": SCHEMA_PRICE_BATCH,
            "zone": first.zone,
            "market": first.market.value,
            "resolution": first.resolution.iso,
            "source": first.source,
            "items": [
                [format_time(p.delivery_start), p.eur_mwh, format_time(p.published_at)] for p in prices
            ],
        }
    )


def _header(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise DecodeError(f"batch field {name!r} is missing or not a string")
    return value


def decode_prices(
    data: bytes,
    limits: PriceLimits = DEFAULT_LIMITS,
    window: TimeWindow = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> DecodedPrices:
    """The prices of a v2 batch or of a v1 single-price message.

    Raises DecodeError only for a message refused as a whole; bad items of a batch are returned in
    ``rejected``, each with its reason.
    """
    return decode_price_fields(data, limits, window, now).as_prices()


def decode_price_fields(
    data: bytes,
    limits: PriceLimits = DEFAULT_LIMITS,
    window: TimeWindow = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> DecodedPriceFields:
    """``decode_prices`` without making the Price objects: the same items, checks and rejections."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"message is {type(data).__name__}, not bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"message is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError(f"message is a JSON {type(doc).__name__}, not an object")
    moment = now or datetime.now(UTC)
    schema = doc.get("schema")
    if schema == SCHEMA_PRICE:
        return DecodedPriceFields([(0, fields_of(decode_price(data, limits, window, moment)))], [])
    if schema != SCHEMA_PRICE_BATCH:
        raise DecodeError(
            f"message schema is {schema!r}, expected {SCHEMA_PRICE_BATCH!r} or {SCHEMA_PRICE!r}"
        )
    header = {name: _header(doc, name) for name in ("zone", "market", "resolution", "source")}
    items = doc.get("items")
    if not isinstance(items, list) or not items:
        raise DecodeError("batch field 'items' must be a non-empty list")
    if len(items) > MAX_BATCH_PRICES:
        raise DecodeError(f"batch of {len(items)} prices exceeds {MAX_BATCH_PRICES}")
    build = _item_builder(header, limits, window, moment)
    good: list[tuple[int, PriceFields]] = []
    rejected: list[RejectedItem] = []
    for index, item in enumerate(items):
        try:
            fields = build(item)
        except InTheGridError as exc:
            alone = orjson.dumps({"schema": SCHEMA_PRICE_BATCH, **header, "items": [item]})
            rejected.append(RejectedItem(index, str(exc), alone))
            continue
        good.append((index, fields))
    return DecodedPriceFields(good, rejected)


def _item_fields(item: Any) -> tuple[str, float, str]:
    if not isinstance(item, list) or len(item) != 3:
        raise DecodeError("an item must be [delivery_start, price_eur_mwh, published_at]")
    start, value, published = item
    if not isinstance(start, str) or not isinstance(published, str):
        raise DecodeError("an item's delivery_start and published_at must be strings")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"an item's price has type {type(value).__name__}")
    return start, value, published


def _item_builder(
    header: dict[str, str], limits: PriceLimits, window: TimeWindow, now: datetime
) -> Callable[[Any], PriceFields]:
    """How to turn one item into checked PriceFields. The header is checked once: a bad market,
    resolution or source refuses the whole message. Items then take a fast path with make_price's
    and check_price's checks, their bounds worked out once per message and their messages built only
    for an item refused; a zone that is not a current code (an alias of a former zone, valid only on
    some dates) goes through make_price item by item."""
    try:
        code = zone_code(header["zone"])
    except UnknownZoneError:

        def build_alias(item: Any) -> PriceFields:
            price = make_price_fast(header, *_item_fields(item), limits)
            check_price(window, price, now)
            return fields_of(price)

        return build_alias
    try:
        market = Market.parse(header["market"])
        resolution = Resolution.parse(header["resolution"])
    except ValidationError as exc:
        raise DecodeError(str(exc)) from None
    source = header["source"]
    if not source or len(source) > 64:
        raise DecodeError("source must be a non-empty name of at most 64 characters")
    step = resolution.value
    low, high = limits.bounds(market)
    earliest, latest, known_by = window.bounds(now)

    def build(item: Any) -> PriceFields:
        start_text, value, published_text = _item_fields(item)
        start = _utc(start_text)
        if start.second or start.microsecond or (start.minute % step if step < 60 else start.minute):
            raise ValidationError(
                f"delivery start {start.isoformat()} for {code} is not aligned to a {resolution.iso} period"
            )
        value = float(value)
        if not (isfinite(value) and low <= value <= high):
            limits.check(code, value, market)  # raises, saying why
        published = _utc(published_text)
        if not (earliest <= start <= latest and published <= known_by):
            check_price_times(window, code, source, start, published, now)  # raises, saying why
        return (code, start, resolution, market, round(value, 2), source, published)

    return build


def _utc(text: str) -> datetime:
    # The bus writes "...Z", read as UTC (and remembered: a batch's items share their publication
    # time, and every zone names the same periods); anything else takes as_utc's path.
    try:
        moment = parse_iso(text)
    except ValueError:
        return as_utc(text)
    return moment if moment.tzinfo is UTC else as_utc(moment)
