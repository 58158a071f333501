"""Opportunity events for tests: DE-LU/FR under rule "poc", day-ahead, hourly, bought in DE-LU at
60 EUR/MWh with a flat 2.5 EUR/MWh cost; ``sell=None`` is an event without a value (a close)."""

from __future__ import annotations

from datetime import datetime

from inthegrid.domain.capture import capture_of
from inthegrid.domain.economics import PairValue
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Market, Resolution


def de_fr_event(
    kind: EventKind, revision: int, sell: float | None, *, start: datetime, detected_at: datetime
) -> OpportunityEvent:
    value = None
    if sell is not None:
        value = PairValue(
            pair=("DE-LU", "FR"),
            buy_zone="DE-LU",
            sell_zone="FR",
            buy_price=60.0,
            sell_price=sell,
            net_eur_mwh=round(sell - 60.0 - 2.5, 2),
            cost_eur_mwh=2.5,
            loss_factor=0.0,
            path=("DE-LU", "FR"),
            capacity_mw=100.0,
            period_hours=1.0,
            capture=capture_of(("DE-LU", "FR"), start),
        )
    return OpportunityEvent(
        kind=kind,
        rule="poc",
        market=Market.DAY_AHEAD,
        pair=("DE-LU", "FR"),
        delivery_start=start,
        resolution=Resolution.PT60M,
        revision=revision,
        value=value,
        detected_at=detected_at,
    )
