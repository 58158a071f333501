"""The interconnector graph (domain.md section 2) and the routes power can take through it.

Power only flows between zones that share an interconnector, so a trade between two zones that are
not neighbours needs a path. The value of moving 1 MWh from ``a`` to ``b`` along a path is
``retention * p_b - p_a - cost`` where ``retention = prod(1 - loss_i)`` and ``cost`` is the sum of
the per-hop transmission fees and capacity prices. Which path is best depends on ``p_b`` (losses
scale with the price), so for every ordered pair we keep the Pareto set of routes - none cheaper
*and* less lossy *and* wider than another - and pick the best one per period.

Capacities, loss factors and capacity prices below are indicative (domain.md marks them "check"):
a rule overrides any of them per border.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import pairwise
from typing import Any

from inthegrid.domain.zones import pair_key, zone_code
from inthegrid.errors import NoPathError, ValidationError


class Technology(StrEnum):
    AC = "AC"
    DC = "DC"


class Allocation(StrEnum):
    # Capacity allocated together with energy by market coupling (SDAC): a price spread on such a
    # border is congestion income, not something a trader captures by buying low and selling high.
    IMPLICIT = "implicit"
    # Capacity auctioned separately (JAO) before prices are known: buy-low/sell-high is a real trade.
    EXPLICIT = "explicit"


@dataclass(frozen=True, slots=True)
class Border:
    a: str
    b: str
    technology: Technology
    capacity_mw: float
    loss_factor: float = 0.0
    allocation: Allocation = Allocation.IMPLICIT
    transmission_cost_eur_mwh: float = 0.0
    capacity_price_eur_mwh: float = 0.0
    name: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return pair_key(self.a, self.b)

    @property
    def cost_eur_mwh(self) -> float:
        return self.transmission_cost_eur_mwh + self.capacity_price_eur_mwh


def _b(
    a: str,
    b: str,
    tech: str,
    mw: float,
    loss: float = 0.0,
    alloc: str = "implicit",
    cap_price: float = 0.0,
    name: str = "",
) -> Border:
    return Border(a, b, Technology(tech), mw, loss, Allocation(alloc), 0.0, cap_price, name)


# Indicative capacity prices on explicit borders, EUR/MWh. DE-LU->CH uses the mean January 2019 JAO
# daily auction price (10.33, tests/fixtures/jao); other explicit borders reuse it as an order of
# magnitude until a rule overrides it.
_CH_CAPACITY_PRICE = 10.33
_GB_CAPACITY_PRICE = 5.0

DEFAULT_BORDERS: tuple[Border, ...] = (
    _b("DE-LU", "FR", "AC", 5400),
    _b("DE-LU", "NL", "AC", 5000),
    _b("DE-LU", "BE", "DC", 1000, 0.01, name="ALEGrO"),
    _b("DE-LU", "AT", "AC", 4900),
    _b("DE-LU", "CH", "AC", 4000, alloc="explicit", cap_price=_CH_CAPACITY_PRICE),
    _b("DE-LU", "CZ", "AC", 2100),
    _b("DE-LU", "DK1", "AC", 2500),
    _b("DE-LU", "DK2", "DC", 585, 0.02, name="Kontek"),
    _b("DE-LU", "NO2", "DC", 1400, 0.03, name="NordLink"),
    _b("DE-LU", "PL", "AC", 2000),
    _b("DE-LU", "SE4", "DC", 615, 0.025, name="Baltic Cable"),
    _b("FR", "BE", "AC", 2800),
    _b("FR", "CH", "AC", 3200, alloc="explicit", cap_price=_CH_CAPACITY_PRICE),
    _b("FR", "ES", "AC", 2800),
    _b("FR", "GB", "DC", 3000, 0.025, "explicit", _GB_CAPACITY_PRICE, "IFA/IFA2"),
    _b("FR", "IT-NORD", "AC", 3000),
    _b("NL", "BE", "AC", 2400),
    _b("NL", "DK1", "DC", 700, 0.03, name="COBRAcable"),
    _b("NL", "GB", "DC", 1000, 0.03, "explicit", _GB_CAPACITY_PRICE, "BritNed"),
    _b("NL", "NO2", "DC", 700, 0.032, name="NorNed"),
    _b("BE", "GB", "DC", 1000, 0.025, "explicit", _GB_CAPACITY_PRICE, "Nemo Link"),
    _b("AT", "CH", "AC", 1200, alloc="explicit", cap_price=_CH_CAPACITY_PRICE),
    _b("AT", "CZ", "AC", 900),
    _b("AT", "HU", "AC", 800),
    _b("AT", "IT-NORD", "AC", 300),
    _b("AT", "SI", "AC", 950),
    _b("HU", "SK", "AC", 1300),  # indicative (check)
    _b("HU", "SI", "AC", 1200),  # Cirkovce-Pince, in service since 2022 (check)
    _b("SI", "IT-NORD", "AC", 680),  # indicative (check)
    _b("CH", "IT-NORD", "AC", 4200, alloc="explicit", cap_price=_CH_CAPACITY_PRICE),
    _b("PL", "CZ", "AC", 600),
    _b("PL", "SE4", "DC", 600, 0.025, name="SwePol"),
    _b("PL", "SK", "AC", 990),
    _b("CZ", "SK", "AC", 1800),
    _b("DK1", "DK2", "DC", 600, 0.02, name="Great Belt"),
    _b("DK1", "GB", "DC", 1400, 0.03, "explicit", _GB_CAPACITY_PRICE, "Viking Link"),
    _b("DK1", "NO2", "DC", 1632, 0.038, name="Skagerrak"),
    # North Sea Link, since 2021: explicit like every GB link; loss factor indicative (check).
    _b("NO2", "GB", "DC", 1400, 0.03, "explicit", _GB_CAPACITY_PRICE, "North Sea Link"),
    _b("DK2", "SE4", "AC", 1300),
    _b("ES", "PT", "AC", 4200),
)


@dataclass(frozen=True, slots=True)
class BorderOverride:
    """A rule's own figures for one border; ``None`` keeps the graph's default."""

    transmission_cost_eur_mwh: float | None = None
    loss_factor: float | None = None
    capacity_mw: float | None = None
    capacity_price_eur_mwh: float | None = None

    def apply(self, border: Border) -> Border:
        changes: dict[str, Any] = {
            k: v
            for k, v in (
                ("transmission_cost_eur_mwh", self.transmission_cost_eur_mwh),
                ("loss_factor", self.loss_factor),
                ("capacity_mw", self.capacity_mw),
                ("capacity_price_eur_mwh", self.capacity_price_eur_mwh),
            )
            if v is not None
        }
        return replace(border, **changes) if changes else border


@dataclass(frozen=True, slots=True)
class Route:
    """One way of moving power from ``path[0]`` to ``path[-1]``."""

    path: tuple[str, ...]
    retention: float  # share of the energy that arrives: prod(1 - loss) over the hops
    cost_eur_mwh: float  # fees and capacity prices summed over the hops, per MWh sent
    capacity_mw: float  # the narrowest hop
    allocations: tuple[Allocation, ...]
    capacity_price_eur_mwh: float = 0.0  # the part of ``cost_eur_mwh`` paid for capacity in auctions

    @property
    def loss_factor(self) -> float:
        return 1.0 - self.retention

    @property
    def hops(self) -> int:
        return len(self.path) - 1

    def net(self, p_from, p_to):
        """Net value of 1 MWh bought at ``p_from`` and sold at ``p_to``; floats or numpy arrays."""
        return self.retention * p_to - p_from - self.cost_eur_mwh

    def energy_net(self, p_from, p_to):
        """Net value of 1 MWh for someone already holding the capacity (auction price paid before)."""
        return self.retention * p_to - p_from - (self.cost_eur_mwh - self.capacity_price_eur_mwh)


class Grid:
    """The interconnector graph, with routes between any two zones found once and cached."""

    def __init__(self, borders: Iterable[Border] = DEFAULT_BORDERS) -> None:
        self._borders: dict[tuple[str, str], Border] = {}
        for border in borders:
            if border.key[0] == border.key[1]:
                raise ValidationError(f"border {border.a}-{border.b} joins a zone to itself")
            if not 0.0 <= border.loss_factor < 1.0:
                raise ValidationError(f"border {border.a}-{border.b}: loss factor must be in [0, 1)")
            if border.capacity_mw <= 0:
                raise ValidationError(f"border {border.a}-{border.b}: capacity must be positive")
            self._borders[border.key] = border
        self._adjacent: dict[str, list[str]] = {}
        for a, b in sorted(self._borders):
            self._adjacent.setdefault(a, []).append(b)
            self._adjacent.setdefault(b, []).append(a)
        self._route_cache: dict[tuple[str, str, int], tuple[Route, ...]] = {}

    @classmethod
    def with_overrides(
        cls, overrides: Mapping[tuple[str, str], BorderOverride], base: Iterable[Border] = DEFAULT_BORDERS
    ) -> Grid:
        borders = {b.key: b for b in base}
        for key, override in overrides.items():
            key = pair_key(*key)
            if key not in borders:
                raise ValidationError(f"border {key[0]}-{key[1]} is not an interconnector of the grid")
            borders[key] = override.apply(borders[key])
        return cls(borders.values())

    @property
    def borders(self) -> tuple[Border, ...]:
        return tuple(self._borders[k] for k in sorted(self._borders))

    def border(self, a: str, b: str) -> Border | None:
        return self._borders.get(pair_key(a, b))

    def neighbours(self, zone: str) -> tuple[str, ...]:
        return tuple(self._adjacent.get(zone_code(zone), ()))

    def routes(self, source: str, target: str, max_hops: int = 3) -> tuple[Route, ...]:
        """Pareto-optimal routes from source to target, best-first for equal prices.

        Order: fewest hops, then lowest cost, then highest retention, then widest. Raises
        NoPathError when no path of at most ``max_hops`` hops exists.
        """
        source, target = zone_code(source), zone_code(target)
        key = (source, target, max_hops)
        cached = self._route_cache.get(key)
        if cached is None:
            cached = self._find_routes(source, target, max_hops)
            self._route_cache[key] = cached
        if not cached:
            raise NoPathError(f"no interconnector path from {source} to {target} within {max_hops} hops")
        return cached

    def direct_route(self, source: str, target: str) -> Route:
        border = self.border(source, target)
        if border is None:
            raise NoPathError(f"{zone_code(source)} and {zone_code(target)} share no interconnector")
        return self._route((zone_code(source), zone_code(target)))

    def _route(self, path: tuple[str, ...]) -> Route:
        retention, cost, capacity, capacity_price = 1.0, 0.0, float("inf"), 0.0
        allocations = []
        for a, b in pairwise(path):
            border = self._borders[pair_key(a, b)]
            retention *= 1.0 - border.loss_factor
            cost += border.cost_eur_mwh
            capacity_price += border.capacity_price_eur_mwh
            capacity = min(capacity, border.capacity_mw)
            allocations.append(border.allocation)
        return Route(path, retention, cost, capacity, tuple(allocations), capacity_price)

    def _find_routes(self, source: str, target: str, max_hops: int) -> tuple[Route, ...]:
        if source == target:
            raise ValidationError(f"a route needs two distinct zones, got {source} twice")
        found: list[Route] = []
        stack: list[tuple[str, ...]] = [(source,)]
        while stack:
            path = stack.pop()
            for nxt in self._adjacent.get(path[-1], ()):
                if nxt in path:
                    continue
                extended = (*path, nxt)
                if nxt == target:
                    found.append(self._route(extended))
                elif len(extended) - 1 < max_hops:
                    stack.append(extended)
        found.sort(key=lambda r: (r.hops, r.cost_eur_mwh, -r.retention, -r.capacity_mw, r.path))
        pareto: list[Route] = []
        for route in found:
            dominated = any(
                o.cost_eur_mwh <= route.cost_eur_mwh
                and o.retention >= route.retention
                and o.capacity_mw >= route.capacity_mw
                for o in pareto
            )
            if not dominated:
                pareto.append(route)
        return tuple(pareto)


DEFAULT_GRID = Grid()
