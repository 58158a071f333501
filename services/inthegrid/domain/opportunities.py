"""Opportunity lifecycle: opened, updated, closed, per rule, pair and delivery period.

``OpportunityBook`` is pure state: feed it the latest value of a pair in a period and it says which
event (if any) that makes. Every event carries a revision that increases per opportunity, so the
event id ``rule/pair/period/revision`` is the same whoever computes it - a restarted calculator
re-deriving an event publishes the same id, and JetStream and the database drop the duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from inthegrid.domain.economics import PairValue
from inthegrid.domain.prices import Market, Resolution
from inthegrid.domain.utc_text import compact_stamp
from inthegrid.domain.zones import pair_label


def opportunity_id(rule: str, pair: tuple[str, str], market: str, delivery_start: datetime) -> str:
    """ "rule/DE-LU/FR/day_ahead/20260101T1000Z": one opportunity of a rule, pair, market and period."""
    return f"{rule}/{pair_label(pair)}/{market}/{compact_stamp(delivery_start)}"


class EventKind(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class OpportunityEvent:
    kind: EventKind
    rule: str
    market: Market
    pair: tuple[str, str]
    delivery_start: datetime
    resolution: Resolution
    revision: int
    value: PairValue | None  # None when closed because a price went missing or the pair has no route
    detected_at: datetime

    @property
    def opportunity_id(self) -> str:
        return opportunity_id(self.rule, self.pair, self.market.value, self.delivery_start)

    @property
    def message_id(self) -> str:
        return f"opp:{self.opportunity_id}/{self.revision}"

    @property
    def delivery_end(self) -> datetime:
        return self.delivery_start + self.resolution.delta


@dataclass(slots=True)
class _Tracked:
    revision: int
    open: bool
    signature: tuple[object, ...] | None


def _signature(value: PairValue) -> tuple[object, ...]:
    # What a trader would call "the opportunity changed": direction, prices, net or path.
    return (
        value.buy_zone,
        value.buy_price,
        value.sell_price,
        value.net_eur_mwh,
        value.path,
        value.capacity_mw,
    )


@dataclass(slots=True)
class OpportunityBook:
    rule: str
    market: Market
    _tracked: dict[tuple[tuple[str, str], datetime], _Tracked] = field(default_factory=dict)

    def observe(
        self,
        pair: tuple[str, str],
        delivery_start: datetime,
        resolution: Resolution,
        value: PairValue | None,
        profitable: bool,
        now: datetime,
    ) -> OpportunityEvent | None:
        key = (pair, delivery_start)
        tracked = self._tracked.get(key)
        kind: EventKind | None = None
        if profitable:
            assert value is not None
            sig = _signature(value)
            if tracked is None or not tracked.open:
                kind = EventKind.OPENED
            elif tracked.signature != sig:
                kind = EventKind.UPDATED
            if kind is None:
                return None
            revision = (tracked.revision if tracked else 0) + 1
            self._tracked[key] = _Tracked(revision, True, sig)
        else:
            if tracked is None or not tracked.open:
                return None
            kind = EventKind.CLOSED
            revision = tracked.revision + 1
            self._tracked[key] = _Tracked(revision, False, None)
        return OpportunityEvent(
            kind, self.rule, self.market, pair, delivery_start, resolution, revision, value, now
        )

    def restore(self, event: OpportunityEvent) -> None:
        """Replay a published event (after a restart) so the book continues where it stopped."""
        key = (event.pair, event.delivery_start)
        tracked = self._tracked.get(key)
        if tracked is not None and tracked.revision >= event.revision:
            return
        is_open = event.kind is not EventKind.CLOSED
        sig = _signature(event.value) if is_open and event.value is not None else None
        self._tracked[key] = _Tracked(event.revision, is_open, sig)

    def forget_before(self, cutoff: datetime) -> int:
        """Drop periods that started before cutoff, bounding memory; returns how many."""
        stale = [k for k in self._tracked if k[1] < cutoff]
        for k in stale:
            del self._tracked[k]
        return len(stale)

    def open_count(self) -> int:
        return sum(1 for t in self._tracked.values() if t.open)
