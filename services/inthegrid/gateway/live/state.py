"""In-memory live state fed by the bus: latest prices, recent periods per zone, open opportunities
and the rules calculators run. Pure data structure (no I/O), so responses built from it are tested
without servers.

Every change bumps a version number; response builders cache their output per version so a burst
of requests between two prices costs one computation.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from inthegrid.domain.capacity import BorderQuantity, CapacityBook
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Market, Price, Resolution
from inthegrid.domain.rules import CompiledRule

T = TypeVar("T")
# Cached answers kept: the handful of common queries stay, one-off ones are evicted.
MAX_CACHED = 256
PeriodKey = tuple[datetime, Resolution]


@dataclass(frozen=True, slots=True)
class LiveOpportunity:
    """The newest event of an open opportunity and its position in the stream (the SSE event id:
    stream sequence x POSITIONS_PER_MESSAGE + index in its message)."""

    event: OpportunityEvent
    sequence: int


class LiveState:
    def __init__(
        self,
        recent_periods: int = 192,
        window: timedelta = timedelta(hours=24),
        max_opportunities: int = 20_000,
    ) -> None:
        self.recent_periods = recent_periods
        # A fast simulator or a replay opens thousands of opportunities a second; the live view keeps
        # the newest ones (by delivery period), history stays in PostgreSQL.
        self.max_opportunities = max_opportunities
        self.window = window
        self._latest: dict[tuple[Market, str], Price] = {}
        self._periods: dict[tuple[Market, str], dict[PeriodKey, Price]] = {}
        self._opportunities: dict[str, LiveOpportunity] = {}
        self._rules: dict[str, CompiledRule] = {}
        self.price_version = 0
        self.rule_version = 0
        self.opportunity_version = 0
        # Keys come from query values (a zone set, a rule name: any string a client sends), so the
        # cache is bounded, least recently used out: an unbounded one grew with every fuzzed request.
        self._cache: OrderedDict[Any, tuple[Any, Any]] = OrderedDict()
        # Each held opportunity's rendered item, dropped at its next event (see ``rendered``).
        self._rendered: dict[str, tuple[LiveOpportunity, bytes]] = {}
        # Published capacities, exchanges and flows (stream CAPACITIES), for /api/borders/capacity.
        self.capacities = CapacityBook()

    # --- updates (called by the bus consumers) -------------------------------------------------

    def apply_capacity(self, quantity: BorderQuantity) -> None:
        self.capacities.add_all([quantity])

    def apply_price(self, price: Price) -> None:
        key = (price.market, price.zone)
        latest = self._latest.get(key)
        # "Latest" is the newest delivery period; a correction of that period replaces it too.
        newer = latest is None or (price.delivery_start, price.resolution) >= (
            latest.delivery_start,
            latest.resolution,
        )
        if newer:
            self._latest[key] = price
        periods = self._periods.setdefault(key, {})
        periods[(price.delivery_start, price.resolution)] = price
        # Trim in steps (a quarter of the window at a time), not on every price: sorting the
        # periods for each new price was the gateway's hottest line under load.
        if len(periods) > self.recent_periods + max(1, self.recent_periods // 4):
            for old in sorted(periods)[: len(periods) - self.recent_periods]:
                del periods[old]
        self.price_version += 1

    def apply_event(self, event: OpportunityEvent, sequence: int) -> None:
        oid = event.opportunity_id
        current = self._opportunities.get(oid)
        if current is not None and current.event.revision > event.revision:
            return  # an older revision arriving late changes nothing
        self._rendered.pop(oid, None)  # its item changes with the event
        if event.kind is EventKind.CLOSED or event.value is None:
            self._opportunities.pop(oid, None)
        else:
            self._opportunities[oid] = LiveOpportunity(event, sequence)
            limit = self.max_opportunities
            if len(self._opportunities) > limit + max(1, limit // 10):
                newest = sorted(self._opportunities.items(), key=lambda kv: kv[1].event.delivery_start)
                self._opportunities = dict(newest[-limit:])
                self._rendered = {k: v for k, v in self._rendered.items() if k in self._opportunities}
        self.opportunity_version += 1

    def forget_opportunities_before(self, cutoff: datetime) -> int:
        """Drop opportunities whose latest event is older than cutoff (bounds memory)."""
        stale = [k for k, v in self._opportunities.items() if v.event.detected_at < cutoff]
        for k in stale:
            del self._opportunities[k]
            self._rendered.pop(k, None)
        if stale:
            self.opportunity_version += 1
        return len(stale)

    def set_rule(self, name: str, rule: CompiledRule | None) -> None:
        if rule is None:
            self._rules.pop(name, None)
        else:
            self._rules[name] = rule
        self.rule_version += 1

    # --- reads ---------------------------------------------------------------------------------

    def latest_prices(self, market: Market | None = None) -> list[Price]:
        return sorted(
            (p for (m, _), p in self._latest.items() if market is None or m is market),
            key=lambda p: (p.market.value, p.zone),
        )

    def periods(self, market: Market, zone: str) -> dict[PeriodKey, Price]:
        return self._periods.get((market, zone), {})

    def rules(self) -> dict[str, CompiledRule]:
        return dict(sorted(self._rules.items()))

    def opportunities(self) -> list[LiveOpportunity]:
        return list(self._opportunities.values())

    def cached(self, key: Any, version: Any, build: Callable[[], T]) -> T:
        """``build()`` once per (key, version); at most MAX_CACHED keys, least recently used out."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            self._cache.move_to_end(key)
            cached: T = hit[1]
            return cached
        value = build()
        self._cache[key] = (version, value)
        self._cache.move_to_end(key)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        return value

    def rendered(self, opportunity: LiveOpportunity, render: Callable[[LiveOpportunity], bytes]) -> bytes:
        """``render(opportunity)`` once per event held. The open-opportunities answer changes with
        every event, and rendering its hundreds of items anew for each took most of a request's time;
        now only the items whose event changed are rendered again."""
        oid = opportunity.event.opportunity_id
        hit = self._rendered.get(oid)
        if hit is not None and hit[0] is opportunity:
            return hit[1]
        out = render(opportunity)
        # Kept only while the opportunity is held with this event: every update above drops it, so
        # the renderings never outnumber the opportunities held.
        if self._opportunities.get(oid) is opportunity:
            self._rendered[oid] = (opportunity, out)
        return out

    @property
    def rendered_size(self) -> int:
        return len(self._rendered)

    @property
    def cache_size(self) -> int:
        return len(self._cache)
