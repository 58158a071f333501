"""The value of moving power between two zones in one delivery period.

For each direction and each candidate route the net value of 1 MWh is
``retention * p_sell_zone - p_buy_zone - cost`` (domain.md section 4); the pair's value is the best
of both directions. The same ``Route.net`` is applied to floats by the live calculator and to numpy
arrays by the backtest, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from inthegrid.domain.capture import Capture, PathCapture, capture_of
from inthegrid.domain.grid import Route
from inthegrid.domain.rules import CompiledRule, PairModel


def round2(value: float) -> float:
    """Cents, rounded exactly as ``np.round(x, 2)`` rounds the backtest's arrays.

    numpy scales by 100, rounds half to even and scales back; Python's ``round`` on the scaled float
    does the same, without numpy's per-call overhead on the live calculator's hot path. Scalar and
    vector results must agree to the cent (a unit test compares them).
    """
    return round(value * 100.0) / 100.0


@dataclass(frozen=True, slots=True)
class PairValue:
    """The better direction of a pair in one period, profitable or not."""

    pair: tuple[str, str]
    buy_zone: str
    sell_zone: str
    buy_price: float
    sell_price: float
    net_eur_mwh: float
    cost_eur_mwh: float
    loss_factor: float
    path: tuple[str, ...]
    capacity_mw: float
    period_hours: float
    capture: PathCapture  # how the value could be captured, from the path's real borders and the date
    # Which capacity figures capacity_mw rests on, hop by hop ("static" without published ones).
    capacity_source: str = "static"

    @property
    def spread_eur_mwh(self) -> float:
        """Gross price difference in the chosen direction (sell minus buy)."""
        return round2(self.sell_price - self.buy_price)

    @property
    def value_eur(self) -> float:
        """Net value times the narrowest capacity times the period length, whoever could earn it."""
        return round2(self.net_eur_mwh * self.capacity_mw * self.period_hours)

    @property
    def profit_eur(self) -> float | None:
        """``value_eur`` where a trader can capture it (explicit capacity on every hop), else None."""
        return self.value_eur if self.capture.capturable else None

    @property
    def congestion_value_eur(self) -> float | None:
        """Ex-post spread x capacity x period on a path limited by a coupled border: congestion income
        the grid operators collect (an upper bound for a right holder), not a trader's profit."""
        if self.capture.capture is not Capture.CONGESTION_INCOME:
            return None
        return round2(self.spread_eur_mwh * self.capacity_mw * self.period_hours)

    @property
    def coupled(self) -> bool:
        """At least one hop is allocated by day-ahead market coupling (from the real borders)."""
        return self.capture.coupled

    @property
    def strategy(self) -> str:
        text = (
            f"Buy in {self.buy_zone} at €{self.buy_price:.2f}, "
            f"sell in {self.sell_zone} at €{self.sell_price:.2f}"
        )
        if len(self.path) > 2:
            text += f" via {' → '.join(self.path[1:-1])}"
        return text


def best_route(routes: tuple[Route, ...], p_from: float, p_to: float) -> tuple[Route, float, float] | None:
    """(route, net per MWh, value per hour) of the route worth most (net x capacity): a trader moves
    megawatts, so a wide border at a slightly lower margin beats a narrow one. The first (fewest
    hops) wins a tie."""
    best: tuple[Route, float, float] | None = None
    for route in routes:
        net = route.net(p_from, p_to)
        value = net * route.capacity_mw
        if best is None or value > best[2]:
            best = (route, net, value)
    return best


def value_pair(
    model: PairModel, price_a: float, price_b: float, period_hours: float, at: datetime | None = None
) -> PairValue | None:
    """Value of a pair given the prices of ``model.pair[0]`` and ``model.pair[1]``.

    ``at`` is the delivery start: the capture label depends on the date (None: today's facts).
    None when the rule cannot move power between the two zones (no route).
    """
    a, b = model.pair
    fwd = best_route(model.forward, price_a, price_b)
    bwd = best_route(model.backward, price_b, price_a)
    if fwd is None and bwd is None:
        return None
    # Ties go to buying in the cheaper zone, as the proof of concept does.
    if bwd is None or (fwd is not None and (fwd[2] > bwd[2] or (fwd[2] == bwd[2] and price_a <= price_b))):
        assert fwd is not None
        route, net, _ = fwd
        buy, sell, p_buy, p_sell = a, b, price_a, price_b
    else:
        route, net, _ = bwd
        buy, sell, p_buy, p_sell = b, a, price_b, price_a
    return PairValue(
        pair=model.pair,
        buy_zone=buy,
        sell_zone=sell,
        buy_price=p_buy,
        sell_price=p_sell,
        net_eur_mwh=round2(net),
        cost_eur_mwh=round(route.cost_eur_mwh, 4),
        loss_factor=round(route.loss_factor, 6),
        path=route.path,
        capacity_mw=route.capacity_mw,
        period_hours=period_hours,
        capture=capture_of(route.path, at),
    )


def is_opportunity(rule: CompiledRule, value: PairValue | None) -> bool:
    """An opportunity exists when the net value is strictly above the rule's minimum net spread and
    the path has capacity left (a published capacity can be zero: then nothing can be traded)."""
    return (
        value is not None
        and value.capacity_mw > 0
        and value.net_eur_mwh > rule.min_net
        and value.value_eur >= rule.min_profit
    )


@dataclass(frozen=True, slots=True)
class PairValues:
    """``value_pair`` over arrays of periods: what the backtest needs, nothing more."""

    net_eur_mwh: np.ndarray
    buy_is_first: np.ndarray  # True where the better direction buys in pair[0]
    capacity_mw: np.ndarray
    route_index: np.ndarray  # index into forward (buy_is_first) or backward routes


def value_pair_arrays(model: PairModel, price_a: np.ndarray, price_b: np.ndarray) -> PairValues:
    """Vectorised ``value_pair``: the same Route.net, the same tie-breaking."""
    n = len(price_a)
    if not model.forward and not model.backward:
        nan = np.full(n, np.nan)
        return PairValues(nan, np.zeros(n, bool), nan, np.zeros(n, int))
    fwd = _best(model.forward, price_a, price_b, n)
    bwd = _best(model.backward, price_b, price_a, n)
    fwd_net = np.round(fwd[0], 2)
    bwd_net = np.round(bwd[0], 2)
    # Directions compare on value (net x capacity), as value_pair does.
    with np.errstate(invalid="ignore"):
        raw_fwd = np.where(np.isneginf(fwd[0]), -np.inf, fwd[0] * fwd[2])
        raw_bwd = np.where(np.isneginf(bwd[0]), -np.inf, bwd[0] * bwd[2])
    take_fwd = (raw_fwd > raw_bwd) | ((raw_fwd == raw_bwd) & (price_a <= price_b))
    take_fwd &= ~np.isnan(raw_fwd) | np.isnan(raw_bwd)
    net = np.where(take_fwd, fwd_net, bwd_net)
    cap = np.where(take_fwd, fwd[2], bwd[2])
    idx = np.where(take_fwd, fwd[1], bwd[1])
    return PairValues(net, take_fwd, cap, idx)


def _best(
    routes: tuple[Route, ...], p_from: np.ndarray, p_to: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not routes:
        return np.full(n, -np.inf), np.zeros(n, int), np.full(n, np.nan)
    nets = np.vstack([route.net(p_from, p_to) for route in routes])
    widths = np.array([r.capacity_mw for r in routes])
    # First maximum of value (net x capacity): fewest hops wins a tie, as in best_route.
    idx = np.argmax(nets * widths[:, None], axis=0)
    net = nets[idx, np.arange(n)]
    return net, idx, widths[idx]


def opportunity_mask(rule: CompiledRule, values: PairValues, period_hours: float) -> np.ndarray:
    profit = np.round(values.net_eur_mwh * values.capacity_mw * period_hours, 2)
    with np.errstate(invalid="ignore"):
        return (values.capacity_mw > 0) & (values.net_eur_mwh > rule.min_net) & (profit >= rule.min_profit)
