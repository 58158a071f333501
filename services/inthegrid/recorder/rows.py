"""Pure conversions from decoded bus messages to the tuples the recorder COPYs into PostgreSQL.

Column order here is the contract with the staging tables in ``store``. Values bound for ``numeric``
columns go as decimal strings at the column's scale: asyncpg encodes a float for a numeric column by
way of its exact binary expansion, and a COPY of four numeric columns ran 2.2 times faster from strings
(bench/bench_numeric_copy.py). The string holds the value the column stored from the float before:
formatting a float at a scale rounds exactly as ``round`` did (a unit test holds them to that).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from inthegrid.domain.batch_codec import PriceFields, fields_of
from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.domain.prices import Price

PRICE_COLUMNS = (
    "zone",
    "market",
    "resolution_minutes",
    "delivery_start",
    "price_eur_mwh",
    "source",
    "published_at",
    "stream_seq",
)

# What an event says about the opportunity's value: copied into `opportunities` on a newer revision.
VALUE_COLUMNS = (
    "buy_zone",
    "sell_zone",
    "buy_price",
    "sell_price",
    "spread",
    "net_eur_mwh",
    "cost_eur_mwh",
    "loss_factor",
    "path",
    "capacity_mw",
    "profit_eur",
    "period_hours",
    "coupled",
)

EVENT_COLUMNS = (
    "rule",
    "pair_a",
    "pair_b",
    "market",
    "delivery_start",
    "revision",
    "kind",
    *VALUE_COLUMNS,
    "resolution_minutes",
    "detected_at",
    "strategy",
    "stream_seq",
)

PriceRow = tuple[str, str, int, datetime, str, str, datetime, int]
EventRow = tuple[Any, ...]


def cents(value: float) -> str:
    """A numeric(…,2) column's value: ``61.2349`` -> ``"61.23"``."""
    return f"{value:.2f}"


def _optional_cents(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def build_price_row(price: Price, stream_seq: int) -> PriceRow:
    (row,) = build_price_rows([(0, fields_of(price))], stream_seq)
    return row


def build_price_rows(prices: Iterable[tuple[int, PriceFields]], stream_seq: int) -> list[PriceRow]:
    """The row of each decoded price of one message, straight from its fields: the recorder makes no
    Price object (it cost about a third of decoding a batch)."""
    return [
        (zone, market.value, int(resolution), start, f"{eur_mwh:.2f}", source, published, stream_seq)
        for _, (zone, start, resolution, market, eur_mwh, source, published) in prices
    ]


def build_event_row(event: OpportunityEvent, stream_seq: int) -> EventRow:
    """One opportunity_events row; a closed event without a value leaves the value columns NULL."""
    v = event.value
    head = (
        event.rule,
        event.pair[0],
        event.pair[1],
        event.market.value,
        event.delivery_start,
        event.revision,
        event.kind.value,
    )
    if v is None:
        values: tuple[Any, ...] = (None,) * 13
    else:
        values = (
            v.buy_zone,
            v.sell_zone,
            cents(v.buy_price),
            cents(v.sell_price),
            cents(v.spread_eur_mwh),
            cents(v.net_eur_mwh),
            f"{v.cost_eur_mwh:.4f}",  # numeric(12,4)
            v.loss_factor,
            list(v.path),
            v.capacity_mw,
            _optional_cents(v.profit_eur),
            v.period_hours,
            v.coupled,
        )
    tail = (int(event.resolution), event.detected_at, v.strategy if v is not None else None, stream_seq)
    return head + values + tail
