"""Price messages on the bus: which subject and message id a batch of prices goes out with, and
how a consumer takes one in (contract in domain/batch_codec.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from inthegrid.domain.batch_codec import (
    DecodedPrices,
    batch_message_id,
    decode_prices,
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
    decoded = decode_prices(data, limits, window)
    checked: set[tuple[str, str]] = set()
    for _, price in decoded.prices:
        if (price.market.value, price.zone) in checked:
            continue
        checked.add((price.market.value, price.zone))
        expected = price_subject(price.market.value, price.zone)
        if subject != expected:
            raise DecodeError(
                f"{price.market.value} price for {price.zone} arrived on {subject}, not {expected}"
            )
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
