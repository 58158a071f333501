"""Capacities and flows on a border in one direction: what is offered, scheduled and flowing.

Sources (domain.md sections 3 and 6):

- ENTSO-E A61 forecasted transfer capacity (NTC, published day-, week-, month-ahead);
- ENTSO-E A31 offered capacity of an explicit auction (the capacity a right buyer can get);
- JAO explicit-auction results: offered and allocated capacity and the auction price per product;
- ENTSO-E A09 scheduled commercial exchanges (day-ahead and total nominations);
- ENTSO-E A11 physical flows (measured, after the fact).

A quantity always runs from ``source`` (the zone the power leaves) to ``target``; ENTSO-E writes the
same thing as ``out_Domain`` -> ``in_Domain``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from inthegrid.domain.capture import Capture, hop_capture
from inthegrid.domain.economics import PairValue
from inthegrid.domain.grid import Grid
from inthegrid.errors import ValidationError


class CapacityKind(StrEnum):
    STATIC = "static"  # the indicative figure in domain/grid.py, not from any document
    FORECAST = "A61"  # forecasted transfer capacity (NTC)
    OFFERED = "A31"  # offered capacity of an explicit auction (ENTSO-E)
    AUCTION_OFFERED = "auction_offered"  # JAO results
    AUCTION_ALLOCATED = "auction_allocated"  # JAO results, ENTSO-E A25
    SCHEDULED = "A09"  # scheduled commercial exchange
    PHYSICAL = "A11"  # measured physical flow


# A capacity to trade on, best first: an auction's own offer is what a right buyer can really get;
# the NTC forecast is what the TSOs expected to offer.
CAPACITY_PREFERENCE = (CapacityKind.OFFERED, CapacityKind.AUCTION_OFFERED, CapacityKind.FORECAST)
EXCHANGE_KINDS = (CapacityKind.SCHEDULED, CapacityKind.PHYSICAL)


@dataclass(frozen=True, slots=True)
class BorderQuantity:
    """MW from ``source`` to ``target`` over [start, end) of one kind, from one origin."""

    source: str
    target: str
    start: datetime
    end: datetime
    mw: float
    kind: CapacityKind
    origin: str = "entsoe"  # where the figure came from: entsoe, jao, a file name...
    contract: str = ""  # ENTSO-E contract_MarketAgreement.type (A01 daily...), JAO horizon

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValidationError(f"{self.direction} {self.kind.value}: period ends before it starts")
        if self.mw != self.mw or self.mw < 0:
            raise ValidationError(f"{self.direction} {self.kind.value}: {self.mw!r} MW is not >= 0")

    @property
    def direction(self) -> str:
        return f"{self.source}->{self.target}"

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass
class CapacityBook:
    """Quantities looked up by direction, kind and moment; a later-added figure wins over an earlier
    one for the same moment (a republished document replaces the old one)."""

    _by_key: dict[tuple[str, str, CapacityKind], list[BorderQuantity]] = field(default_factory=dict)

    @classmethod
    def of(cls, quantities: Iterable[BorderQuantity]) -> CapacityBook:
        book = cls()
        book.add_all(quantities)
        return book

    def add_all(self, quantities: Iterable[BorderQuantity]) -> None:
        for q in quantities:
            self._by_key.setdefault((q.source, q.target, q.kind), []).append(q)

    def forget_before(self, cutoff: datetime) -> int:
        """Drop figures that ended before ``cutoff`` (bounds a long-running calculator's memory)."""
        dropped = 0
        for key, items in list(self._by_key.items()):
            kept = [q for q in items if q.end > cutoff]
            dropped += len(items) - len(kept)
            if kept:
                self._by_key[key] = kept
            else:
                del self._by_key[key]
        return dropped

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def at(self, source: str, target: str, kind: CapacityKind, moment: datetime) -> BorderQuantity | None:
        for q in reversed(self._by_key.get((source, target, kind), ())):
            if q.covers(moment):
                return q
        return None

    def latest(self) -> list[BorderQuantity]:
        """Per direction and kind, the figure with the latest start (what a dashboard shows)."""
        out = []
        for key in sorted(self._by_key):
            items = self._by_key[key]
            starts = [q.start for q in items]
            out.append(items[max(range(len(items)), key=lambda i: (starts[i], i))])
        return out


@dataclass(frozen=True, slots=True)
class HopCapacity:
    source: str
    target: str
    mw: float  # the border's capacity in this direction (what congestion income is earned on)
    left_mw: float  # what is left after the scheduled exchange: what a later trade can still use
    provenance: str  # e.g. "static", "A61", "A61-A09", "auction_offered"

    def as_dict(self) -> dict[str, object]:
        return {
            "border": f"{self.source}->{self.target}",
            "capacity_mw": self.mw,
            "left_mw": self.left_mw,
            "provenance": self.provenance,
        }


@dataclass(frozen=True, slots=True)
class PathCapacity:
    hops: tuple[HopCapacity, ...]

    @property
    def mw(self) -> float:
        return min((h.mw for h in self.hops), default=0.0)

    @property
    def left_mw(self) -> float:
        return min((h.left_mw for h in self.hops), default=0.0)

    @property
    def provenance(self) -> str:
        """Which figures were used, hop by hop (``DE-LU->CH:A31, CH->IT-NORD:static``)."""
        return ", ".join(f"{h.source}->{h.target}:{h.provenance}" for h in self.hops)

    @property
    def capturable(self) -> bool:
        """False when some hop has no capacity left: no value can be captured in that direction."""
        return self.left_mw > 0


def hop_capacity(source: str, target: str, moment: datetime, book: CapacityBook, grid: Grid) -> HopCapacity:
    """The capacity from ``source`` to ``target`` at ``moment``, what is left of it, and on what
    figures both are based.

    The best published capacity (A31, then JAO offered, then A61) replaces the static figure. The
    A09 scheduled exchange in the same direction is taken; opposite schedules would free capacity
    by netting but are not counted, so ``left_mw`` errs low. JAO allocated capacity is not taken:
    it is held by right holders who capture the spread with it.
    """
    base: BorderQuantity | None = None
    for kind in CAPACITY_PREFERENCE:
        base = book.at(source, target, kind, moment)
        if base is not None:
            break
    if base is None:
        border = grid.border(source, target)
        mw, label = (border.capacity_mw if border is not None else 0.0), CapacityKind.STATIC.value
    else:
        mw, label = base.mw, base.kind.value
    left = mw
    taken = book.at(source, target, CapacityKind.SCHEDULED, moment)
    if taken is not None:
        left, label = mw - taken.mw, f"{label}-{taken.kind.value}"
    return HopCapacity(source, target, mw, round(max(left, 0.0), 3), label)


def path_capacity(path: tuple[str, ...], moment: datetime, book: CapacityBook, grid: Grid) -> PathCapacity:
    """Capacity on every hop of ``path`` at ``moment``; the path's is its narrowest hop's."""
    if len(path) < 2:
        raise ValidationError(f"a path needs two zones, got {path!r}")
    return PathCapacity(tuple(hop_capacity(a, b, moment, book, grid) for a, b in pairwise(path)))


@dataclass(frozen=True, slots=True)
class AdverseFlow:
    """An exchange or flow from the higher-price zone to the lower-price one (against the spread)."""

    quantity: BorderQuantity
    source_price: float
    target_price: float
    flow_based: str | None  # the flow-based region: there such flows are legitimate

    @property
    def note(self) -> str:
        what = "scheduled exchange" if self.quantity.kind is CapacityKind.SCHEDULED else "physical flow"
        base = (
            f"{what} of {self.quantity.mw:g} MW {self.quantity.direction} runs from "
            f"{self.source_price:.2f} to {self.target_price:.2f} EUR/MWh"
        )
        if self.flow_based:
            return f"{base}: legitimate under {self.flow_based} flow-based coupling"
        return f"{base}: against the price spread"


def adverse_flow(
    quantity: BorderQuantity, source_price: float, target_price: float, *, min_spread: float = 0.005
) -> AdverseFlow | None:
    """Flag ``quantity`` when it carries power from the dearer to the cheaper zone.

    Only exchanges and flows count (a capacity says what could flow, not what did). In flow-based
    regions (CWE/Core, Nordic) such flows follow from the grid constraints and are legitimate; the
    flag says so rather than calling them an error.
    """
    if quantity.kind not in EXCHANGE_KINDS or quantity.mw <= 0:
        return None
    if source_price - target_price < min_spread:
        return None
    hop = hop_capture(quantity.source, quantity.target, quantity.start, True)
    return AdverseFlow(quantity, source_price, target_price, hop.flow_based)


def with_published_capacity(value: PairValue, moment: datetime, book: CapacityBook, grid: Grid) -> PairValue:
    """``value`` at the capacity published for its path and period, saying which figures it used.

    A day-ahead coupled path is valued at the border's capacity (the congestion income is earned on
    all of it); any other trade only at what is left after the scheduled exchange, so a direction
    with nothing left has no value. Without a published figure on any hop the value is unchanged.
    """
    path = path_capacity(value.path, moment, book, grid)
    if all(h.provenance == CapacityKind.STATIC.value for h in path.hops):
        return value
    mw = path.mw if value.capture.capture is Capture.CONGESTION_INCOME else path.left_mw
    return replace(value, capacity_mw=mw, capacity_source=path.provenance)
