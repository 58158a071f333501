"""Pure conversions from decoded bus messages to the tuples the recorder COPYs into PostgreSQL.

Column order here is the contract with the staging tables in ``store``; prices stay floats rounded
to cents (the numeric(10,2) columns hold them exactly).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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

PriceRow = tuple[str, str, int, datetime, float, str, datetime, int]
EventRow = tuple[Any, ...]


def build_price_row(price: Price, stream_seq: int) -> PriceRow:
    return (
        price.zone,
        price.market.value,
        int(price.resolution),
        price.delivery_start,
        round(price.eur_mwh, 2),
        price.source,
        price.published_at,
        stream_seq,
    )


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
            round(v.buy_price, 2),
            round(v.sell_price, 2),
            v.spread_eur_mwh,
            round(v.net_eur_mwh, 2),
            round(v.cost_eur_mwh, 4),
            v.loss_factor,
            list(v.path),
            v.capacity_mw,
            v.profit_eur,
            v.period_hours,
            v.coupled,
        )
    tail = (int(event.resolution), event.detected_at, v.strategy if v is not None else None, stream_seq)
    return head + values + tail
