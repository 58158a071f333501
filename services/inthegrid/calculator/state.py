"""The calculator's state, pure: latest price per zone and period, and the opportunity book.

A new price re-values only the pairs of the rule that contain its zone, for its period, and the
book turns each value into at most one event. Re-valuing is always done, even for a price that is
already known: after a restart a redelivered price must re-derive an event that was lost in the
crash; the book (restored from the published events) drops the ones that were not lost.

A price's identity includes its source (docs/robustness.md): the first source to price a zone and
period owns it, and only a newer publication from that same source replaces it (a correction). A
message from another source is ignored, never a silent replacement. The horizon is kept per source,
so one source's far-future period cannot make another source's prices look too old.

The opportunity book is per rule, so it keeps every period some source may still value: from the
oldest horizon of the sources still publishing. A source silent for a whole horizon of wall time no
longer holds it back (a renamed or removed feed pinned every later period in memory for as long as
the calculator ran); if it speaks again, its prices for periods the book has forgotten are ignored
like any price older than the horizon, so no forgotten opportunity is re-opened at revision 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from inthegrid.domain.capacity import BorderQuantity, CapacityBook, with_published_capacity
from inthegrid.domain.economics import PairValue, is_opportunity, value_pair
from inthegrid.domain.opportunities import OpportunityBook, OpportunityEvent
from inthegrid.domain.periods import pair_prices, periods_touched
from inthegrid.domain.prices import Price, Resolution
from inthegrid.domain.rules import CompiledRule, PairModel

PriceKey = tuple[str, datetime, Resolution]


@dataclass(slots=True)
class CalculatorState:
    rule: CompiledRule
    horizon: timedelta = timedelta(hours=48)
    prices: dict[PriceKey, Price] = field(default_factory=dict)
    newest_by_source: dict[str, datetime] = field(default_factory=dict)
    # Wall time each source was last heard from (a price remembered with ``heard_at``).
    heard_at: dict[str, datetime] = field(default_factory=dict)
    # Per source that fell silent: the book forgot the periods before this past it, so its prices for
    # them are never valued again.
    silent_floor: dict[str, datetime] = field(default_factory=dict)
    ignored_other_source: int = 0
    evaluations: int = 0
    # Resolutions each zone has published: an hourly-only pair never looks for quarter-hours.
    resolutions: dict[str, set[Resolution]] = field(default_factory=dict)
    book: OpportunityBook = field(init=False)
    # Published capacities, exchanges and flows: values use them where they cover a period.
    capacities: CapacityBook = field(default_factory=CapacityBook)

    def __post_init__(self) -> None:
        self.book = OpportunityBook(self.rule.name, self.rule.market)

    def accepts(self, price: Price) -> bool:
        return price.market is self.rule.market and price.zone in self.rule.by_zone

    def remember(self, price: Price, heard_at: datetime | None = None) -> bool:
        """Store a price without valuing anything (replay after a restart). False if not ours."""
        if not self.accepts(price):
            return False
        if heard_at is not None:
            self.heard_at[price.source] = heard_at
        newest = self.newest_by_source.get(price.source)
        if newest is not None and price.delivery_start < newest - self.horizon:
            return False  # older than the horizon: its opportunities were already forgotten
        floor = self.silent_floor.get(price.source)
        if floor is not None and price.delivery_start < floor:
            return False  # a period the book forgot while this source was silent
        key = (price.zone, price.delivery_start, price.resolution)
        known = self.prices.get(key)
        if known is not None and known.source != price.source:
            self.ignored_other_source += 1
            return False  # another source owns this zone and period
        # A correction replaces the price; an older publication never overwrites a newer one.
        if known is None or price.published_at >= known.published_at:
            self.prices[key] = price
        self.resolutions.setdefault(price.zone, set()).add(price.resolution)
        if newest is None or price.delivery_start > newest:
            self.newest_by_source[price.source] = price.delivery_start
        return True

    @property
    def newest_start(self) -> datetime | None:
        return max(self.newest_by_source.values(), default=None)

    def on_price(self, price: Price, now: datetime) -> list[OpportunityEvent]:
        if not self.remember(price, now):
            return []
        events = []
        # An hourly price also pairs with each quarter-hour of its hour where the other zone is
        # quarter-hourly (domain.periods), exactly as the backtest's table pairs them.
        for start, resolution in periods_touched(price.delivery_start, price.resolution):
            for model in self.rule.by_zone[price.zone]:
                event = self._revalue(model, start, resolution, now)
                if event is not None:
                    events.append(event)
        return events

    def _pair(self, model: PairModel, start: datetime, resolution: Resolution) -> tuple[Price, Price] | None:
        a, b = model.pair
        own_a = self.prices.get((a, start, resolution))
        own_b = self.prices.get((b, start, resolution))
        if own_a is not None and own_b is not None:
            return own_a, own_b  # the common case: both zones at this resolution
        if own_a is None and own_b is None:
            return None  # a pair is valued only where at least one zone has its own price
        # One zone's price may cover the period at a coarser resolution; only those it publishes are
        # looked up (a quarter-hourly zone whose partner has not priced the period yet: none).
        return pair_prices(
            lambda s, r: self.prices.get((a, s, r)),
            lambda s, r: self.prices.get((b, s, r)),
            start,
            resolution,
            self.resolutions.get(a, ()),
            self.resolutions.get(b, ()),
        )

    def value_of(self, model: PairModel, start: datetime, resolution: Resolution) -> PairValue | None:
        both = self._pair(model, start, resolution)
        if both is None:
            return None
        return self._valued(model, both, resolution, start)

    def _valued(
        self, model: PairModel, both: tuple[Price, Price], resolution: Resolution, start: datetime
    ) -> PairValue | None:
        value = value_pair(model, both[0].eur_mwh, both[1].eur_mwh, resolution.hours, start)
        if value is None or not len(self.capacities):
            return value
        return with_published_capacity(value, start, self.capacities, self.rule.grid)

    def on_capacity(self, quantity: BorderQuantity, now: datetime) -> list[OpportunityEvent]:
        """Store a published capacity and re-value every known period it covers."""
        self.capacities.add_all([quantity])
        periods = sorted({(s, r) for (_, s, r) in self.prices if quantity.start <= s < quantity.end})
        events = []
        for start, res in periods:
            for model in self.rule.pairs.values():
                event = self._revalue(model, start, res, now)
                if event is not None:
                    events.append(event)
        return events

    def _revalue(
        self, model: PairModel, start: datetime, resolution: Resolution, now: datetime
    ) -> OpportunityEvent | None:
        both = self._pair(model, start, resolution)
        if both is None:
            return None  # the other zone's price for this period is not known yet
        self.evaluations += 1
        value = self._valued(model, both, resolution, start)
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

    def prune(self, now: datetime | None = None) -> int:
        """Forget periods older than the horizon before the newest period seen; bounds memory. With
        ``now`` (wall time), sources not heard from within a horizon no longer hold the book back."""
        if not self.newest_by_source:
            return 0
        cutoffs = {source: newest - self.horizon for source, newest in self.newest_by_source.items()}
        stale = [k for k, p in self.prices.items() if k[1] < cutoffs[p.source]]
        for k in stale:
            del self.prices[k]
        # The book is per rule, not per source: forget only what every source still publishing has
        # left behind (a source never heard from live, restored or in a test, counts as publishing).
        live = {
            source: cutoff
            for source, cutoff in cutoffs.items()
            if now is None or self.heard_at.get(source, now) >= now - self.horizon
        }
        cutoff = min((live or cutoffs).values())
        for source in cutoffs.keys() - live.keys():
            self.silent_floor[source] = max(cutoff, self.silent_floor.get(source, cutoff))
        self.book.forget_before(cutoff)
        self.capacities.forget_before(cutoff)
        return len(stale)
