"""Price messages on the bus: which subject and message id a batch of prices goes out with, and
how a consumer takes one in (contract in domain/batch_codec.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from inthegrid.domain.batch_codec import (
    DecodedPriceFields,
    DecodedPrices,
    batch_message_id,
    decode_price_fields,
    encode_price_batch,
    group_price_batches,
)
from inthegrid.domain.plausibility import TimeWindow
from inthegrid.domain.prices import Price, PriceLimits
from inthegrid.errors import DecodeError
from inthegrid.platform.bus import price_subject


def decode_prices_on(subject: str, data: bytes, limits: PriceLimits, window: TimeWindow) -> DecodedPrices:
    """A price message (batch or single) as a consumer must take it: on its own zone's subject. A
    batch's prices share their zone and market, so a wrong subject refuses the message as a whole."""
    return decode_price_fields_on(subject, data, limits, window).as_prices()


def decode_price_fields_on(
    subject: str, data: bytes, limits: PriceLimits, window: TimeWindow
) -> DecodedPriceFields:
    """``decode_prices_on`` without making the Price objects (batch_codec.PriceFields)."""
    decoded = decode_price_fields(data, limits, window)
    # (market, zone) is fields[3], fields[0] (batch_codec.PriceFields); each pair once, in item order.
    for market, zone in dict.fromkeys((fields[3], fields[0]) for _, fields in decoded.prices):
        expected = price_subject(market.value, zone)
        if subject != expected:
            raise DecodeError(f"{market.value} price for {zone} arrived on {subject}, not {expected}")
    return decoded


def price_messages(batches: Iterable[Sequence[Price]]) -> list[tuple[str, bytes, str]]:
    """(subject, payload, message id) of each batch (from ``group_price_batches``: one zone each)."""
    return [
        (price_subject(b[0].market.value, b[0].zone), encode_price_batch(b), batch_message_id(b))
        for b in batches
    ]


def batched_price_messages(prices: Iterable[Price]) -> list[tuple[str, bytes, str]]:
    """The messages that carry ``prices``, grouped into batches."""
    return price_messages(group_price_batches(prices))
