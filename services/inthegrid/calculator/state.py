"""The calculator's state, pure: latest price per zone and period, and the opportunity book.

A new price re-values only the pairs of the rule that contain its zone, for its period, and the
book turns each value into at most one event. Re-valuing is always done, even for a price that is
already known: after a restart a redelivered price must re-derive an event that was lost in the
crash; the book (restored from the published events) drops the ones that were not lost.

A price's identity includes its source (docs/robustness.md): the first source to price a zone and
period owns it, and only a newer publication from that same source replaces it (a correction). A
message from another source is ignored, never a silent replacement. The horizon is kept per source,
so one source's far-future period cannot make another source's prices look too old.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from inthegrid.domain.economics import PairValue, is_opportunity, value_pair
from inthegrid.domain.opportunities import OpportunityBook, OpportunityEvent
from inthegrid.domain.prices import Price, Resolution
from inthegrid.domain.rules import CompiledRule, PairModel

PriceKey = tuple[str, datetime, Resolution]


@dataclass(slots=True)
class CalculatorState:
    rule: CompiledRule
    horizon: timedelta = timedelta(hours=48)
    prices: dict[PriceKey, Price] = field(default_factory=dict)
    newest_by_source: dict[str, datetime] = field(default_factory=dict)
    ignored_other_source: int = 0
    evaluations: int = 0
    book: OpportunityBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = OpportunityBook(self.rule.name, self.rule.market)

    def accepts(self, price: Price) -> bool:
        return price.market is self.rule.market and price.zone in self.rule.by_zone

    def remember(self, price: Price) -> bool:
        """Store a price without valuing anything (replay after a restart). False if not ours."""
        if not self.accepts(price):
            return False
        newest = self.newest_by_source.get(price.source)
        if newest is not None and price.delivery_start < newest - self.horizon:
            return False  # older than the horizon: its opportunities were already forgotten
        key = (price.zone, price.delivery_start, price.resolution)
        known = self.prices.get(key)
        if known is not None and known.source != price.source:
            self.ignored_other_source += 1
            return False  # another source owns this zone and period
        # A correction replaces the price; an older publication never overwrites a newer one.
        if known is None or price.published_at >= known.published_at:
            self.prices[key] = price
        if newest is None or price.delivery_start > newest:
            self.newest_by_source[price.source] = price.delivery_start
        return True

    @property
    def newest_start(self) -> datetime | None:
        return max(self.newest_by_source.values(), default=None)

    def on_price(self, price: Price, now: datetime) -> list[OpportunityEvent]:
        if not self.remember(price):
            return []
        current = self.prices[(price.zone, price.delivery_start, price.resolution)]
        events = []
        for model in self.rule.by_zone[price.zone]:
            event = self._revalue(model, current.delivery_start, current.resolution, now)
            if event is not None:
                events.append(event)
        return events

    def value_of(self, model: PairModel, start: datetime, resolution: Resolution) -> PairValue | None:
        a = self.prices.get((model.pair[0], start, resolution))
        b = self.prices.get((model.pair[1], start, resolution))
        if a is None or b is None:
            return None
        return value_pair(model, a.eur_mwh, b.eur_mwh, resolution.hours)

    def _revalue(
        self, model: PairModel, start: datetime, resolution: Resolution, now: datetime
    ) -> OpportunityEvent | None:
        a = self.prices.get((model.pair[0], start, resolution))
        b = self.prices.get((model.pair[1], start, resolution))
        if a is None or b is None:
            return None  # the other zone's price for this period is not known yet
        self.evaluations += 1
        value = value_pair(model, a.eur_mwh, b.eur_mwh, resolution.hours)
        return self.book.observe(model.pair, start, resolution, value, is_opportunity(self.rule, value), now)

    def reconcile(self, now: datetime) -> list[OpportunityEvent]:
        """Re-value every known pair and period (after a restart) and return the missing events."""
        periods = sorted({(start, res) for (_, start, res) in self.prices})
        events = []
        for start, res in periods:
            for model in self.rule.pairs.values():
                event = self._revalue(model, start, res, now)
                if event is not None:
                    events.append(event)
        return events

    def prune(self) -> int:
        """Forget periods older than the horizon before the newest period seen; bounds memory."""
        if not self.newest_by_source:
            return 0
        cutoffs = {source: newest - self.horizon for source, newest in self.newest_by_source.items()}
        stale = [k for k, p in self.prices.items() if k[1] < cutoffs[p.source]]
        for k in stale:
            del self.prices[k]
        # The book is per rule, not per source: forget only what every source has left behind.
        self.book.forget_before(min(cutoffs.values()))
        return len(stale)
