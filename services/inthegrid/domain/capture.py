"""How a price spread could be captured: the real allocation of every border on a path, by date.

The label comes from market facts (domain.md section 3), never from a rule's cost model: a rule may
price a coupled border, but that does not make its day-ahead spread a trade.

- congestion income: both zones are in day-ahead market coupling (SDAC); capacity is allocated with
  the energy, so a spread means the border is full and spread x flow goes to the grid operators.
  The spread is information, not a trade.
- explicit capacity: capacity is auctioned (JAO) before prices are known - every Swiss border, and
  the GB links since GB left market coupling on 2021-01-01. Buying capacity and trading both sides is
  a real trade at the capacity price.
- a long-term transmission right (PTR on explicit borders, FTR option on coupled ones) pays
  max(spread, 0) per MW and period in its direction; the trade is its auction price against that.

A path is only as capturable as its weakest hop. Flow-based regions (CWE from 2015-05-20, Core from
2022-06-09, Nordic from 2024-10-30) set limits on grid elements, not borders: a pairwise border
value there is an approximation, and the label says so.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from functools import lru_cache
from itertools import pairwise

from inthegrid.domain.grid import DEFAULT_BORDERS
from inthegrid.domain.zones import pair_key
from inthegrid.errors import ValidationError


class Capture(IntEnum):
    """How a value could be captured, weakest first (a path takes the minimum of its hops)."""

    NONE = 0  # no interconnector and no market coupling between the two zones
    CONGESTION_INCOME = 1
    EXPLICIT_CAPACITY = 2

    @property
    def label(self) -> str:
        return _CAPTURE_LABELS[self]


_CAPTURE_LABELS = {
    Capture.NONE: "none",
    Capture.CONGESTION_INCOME: "congestion_income",
    Capture.EXPLICIT_CAPACITY: "explicit_capacity",
}
CAPTURE_BY_LABEL = {label: capture for capture, label in _CAPTURE_LABELS.items()}


class HopAllocation(StrEnum):
    COUPLED = "coupled"  # day-ahead capacity allocated implicitly by market coupling
    EXPLICIT = "explicit"  # day-ahead capacity sold in an explicit auction before prices are known
    NONE = "none"  # neither: no interconnector, zones not coupled


class LongTermRight(StrEnum):
    PTR = "PTR"  # physical transmission right (explicit borders)
    FTR = "FTR"  # financial transmission right option (coupled borders)


# Switzerland is not part of SDAC: every Swiss border is an explicit auction.
_NEVER_COUPLED = frozenset({"CH"})
# GB left the EU internal energy market's coupling at the end of the Brexit transition period.
GB_DECOUPLED_FROM = datetime(2021, 1, 1, tzinfo=UTC)
# The Nordic market uses EPADs (price-area differentials), not long-term transmission rights, and
# NorNed/NordLink/Baltic Cable/SwePol sell none (check: JAO's border list changes).
_NO_LONG_TERM_RIGHTS_ZONES = frozenset({"NO2", "SE4"})
_NO_LONG_TERM_RIGHTS_BORDERS = frozenset({("DK1", "DK2"), ("DK2", "SE4"), ("DK1", "NO2")})


@dataclass(frozen=True, slots=True)
class FlowBasedRegion:
    name: str
    since: datetime
    zones: frozenset[str]


# Later regions first: Core replaced CWE on 2022-06-09.
FLOW_BASED_REGIONS: tuple[FlowBasedRegion, ...] = (
    FlowBasedRegion(
        "Nordic",
        datetime(2024, 10, 30, tzinfo=UTC),
        frozenset({"DK1", "DK2", "NO1", "NO2", "NO3", "NO4", "NO5", "SE1", "SE2", "SE3", "SE4", "FI"}),
    ),
    FlowBasedRegion(
        "Core",
        datetime(2022, 6, 9, tzinfo=UTC),
        frozenset({"DE-LU", "FR", "NL", "BE", "AT", "CZ", "PL", "SK", "HU", "SI", "HR", "RO"}),
    ),
    FlowBasedRegion(
        "CWE",
        datetime(2015, 5, 20, tzinfo=UTC),
        frozenset({"DE-LU", "DE-AT-LU", "FR", "NL", "BE", "AT"}),
    ),
)

# Every date on which some label changes: a path's labels are the same between two of them.
LABEL_CHANGES: tuple[datetime, ...] = tuple(
    sorted({GB_DECOUPLED_FROM, *(r.since for r in FLOW_BASED_REGIONS)})
)


@dataclass(frozen=True, slots=True)
class HopCapture:
    zones: tuple[str, str]  # in the direction of the path
    interconnector: bool  # False: the model treats the two zones as neighbours, the grid does not
    allocation: HopAllocation
    capture: Capture
    long_term_right: LongTermRight | None
    flow_based: str | None  # the flow-based region the hop lies in, if any

    def as_dict(self) -> dict[str, object]:
        return {
            "zones": list(self.zones),
            "interconnector": self.interconnector,
            "allocation": self.allocation.value,
            "capture": self.capture.label,
            "long_term_right": self.long_term_right.value if self.long_term_right else None,
            "flow_based": self.flow_based,
        }


@dataclass(frozen=True, slots=True)
class PathCapture:
    """The capture label of a whole path: its weakest hop's, naming that hop."""

    hops: tuple[HopCapture, ...]
    capture: Capture
    weakest_hop: tuple[str, str]

    @property
    def capturable(self) -> bool:
        """A trader can capture the value (explicit capacity on every hop)."""
        return self.capture is Capture.EXPLICIT_CAPACITY

    @property
    def coupled(self) -> bool:
        """At least one hop is allocated by market coupling: the value is (partly) congestion income."""
        return any(h.allocation is HopAllocation.COUPLED for h in self.hops)

    @property
    def flow_based(self) -> tuple[str, ...]:
        """Flow-based regions the path crosses: its border-by-border value is an approximation."""
        return tuple(sorted({h.flow_based for h in self.hops if h.flow_based}))

    @property
    def weakest_hop_label(self) -> str:
        return f"{self.weakest_hop[0]}>{self.weakest_hop[1]}"

    @property
    def hops_label(self) -> str:
        """Compact text for tables: 'DE-LU>FR:coupled|FR>CH:explicit'."""
        return "|".join(f"{h.zones[0]}>{h.zones[1]}:{h.allocation.value}" for h in self.hops)


def _in_sdac(zone: str, at: datetime) -> bool:
    if zone in _NEVER_COUPLED:
        return False
    return not (zone == "GB" and at >= GB_DECOUPLED_FROM)


def _flow_based_region(a: str, b: str, at: datetime) -> str | None:
    for region in FLOW_BASED_REGIONS:
        if at >= region.since and a in region.zones and b in region.zones:
            return region.name
    return None


def _long_term_right(a: str, b: str, allocation: HopAllocation) -> LongTermRight | None:
    if allocation is HopAllocation.NONE:
        return None
    if a in _NO_LONG_TERM_RIGHTS_ZONES or b in _NO_LONG_TERM_RIGHTS_ZONES:
        return None
    if pair_key(a, b) in _NO_LONG_TERM_RIGHTS_BORDERS:
        return None
    return LongTermRight.PTR if allocation is HopAllocation.EXPLICIT else LongTermRight.FTR


def hop_capture(a: str, b: str, at: datetime, interconnector: bool) -> HopCapture:
    """The label of one hop from ``a`` to ``b`` on ``at``; ``interconnector`` from the real grid."""
    if _in_sdac(a, at) and _in_sdac(b, at):
        allocation, capture = HopAllocation.COUPLED, Capture.CONGESTION_INCOME
    elif interconnector:
        allocation, capture = HopAllocation.EXPLICIT, Capture.EXPLICIT_CAPACITY
    else:
        allocation, capture = HopAllocation.NONE, Capture.NONE
    return HopCapture(
        (a, b),
        interconnector,
        allocation,
        capture,
        _long_term_right(a, b, allocation) if interconnector else None,
        _flow_based_region(a, b, at),
    )


def era_of(at: datetime | None) -> int:
    """Index of the span between label changes that ``at`` falls in (None: today's facts)."""
    return len(LABEL_CHANGES) if at is None else bisect_right(LABEL_CHANGES, at)


def era_start(era: int) -> datetime:
    return LABEL_CHANGES[era - 1] if era > 0 else datetime(2000, 1, 1, tzinfo=UTC)


# The real interconnectors: a rule can change a border's figures, never whether it exists.
REAL_BORDERS = frozenset(b.key for b in DEFAULT_BORDERS)


def capture_of(path: tuple[str, ...], at: datetime | None = None) -> PathCapture:
    """The label of ``path`` on ``at`` (None: today's facts)."""
    return capture_in_era(path, era_of(at))


@lru_cache(maxsize=4096)
def capture_in_era(path: tuple[str, ...], era: int) -> PathCapture:
    """``capture_of`` for every moment of one era (see ``era_of``); cached, labels are per era."""
    if len(path) < 2:
        raise ValidationError(f"a path needs at least two zones, got {list(path)}")
    at = era_start(era)
    hops = tuple(hop_capture(a, b, at, pair_key(a, b) in REAL_BORDERS) for a, b in pairwise(path))
    weakest = min(hops, key=lambda h: h.capture)  # first of the weakest
    return PathCapture(hops, weakest.capture, weakest.zones)


def capture_fields(capture: PathCapture) -> dict[str, object]:
    """The fields every valuation carries (API items, events, backtest rows), named once."""
    return {
        "capture": capture.capture.label,
        "capturable": capture.capturable,
        "weakest_hop": list(capture.weakest_hop),
        "hops": [h.as_dict() for h in capture.hops],
        "flow_based_approximation": bool(capture.flow_based),
        "flow_based_regions": list(capture.flow_based),
    }


def empty_capture_fields() -> dict[str, object]:
    """The same fields for an item without a value (a closed opportunity, a pair without prices)."""
    return {
        "capture": None,
        "capturable": None,
        "weakest_hop": None,
        "hops": [],
        "flow_based_approximation": None,
        "flow_based_regions": [],
    }
