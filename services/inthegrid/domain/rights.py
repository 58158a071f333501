"""Trades that exist without hindsight: transmission rights and explicit capacity (pure).

- A transmission right (PTR, or FTR option) from a to b pays max(p_b - p_a, 0) per MW and hour;
  its holder paid the auction price per MW and hour before any price was known.
- Explicit daily capacity is bought per hour in an auction the day before, before that day's
  energy prices: its holder then moves power only where it pays (``Route.energy_net`` > 0, the same
  route economics the live calculator uses), having paid the capacity price for every hour bought.
- A signal decides, with what is known before the auction, which hours are worth buying. It is any
  callable: past payoffs in, expected payoffs out (a forecast can be plugged in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inthegrid.domain.grid import Route

# history (days x periods of the day, oldest first, NaN where unknown) -> expected payoff per period.
Signal = Callable[[np.ndarray], np.ndarray]


def right_payoff(p_from: np.ndarray, p_to: np.ndarray) -> np.ndarray:
    """What a right from ``p_from``'s zone to ``p_to``'s pays per MW and hour."""
    return np.maximum(np.asarray(p_to) - np.asarray(p_from), 0.0)


def capacity_payoff(route: Route, p_from: np.ndarray, p_to: np.ndarray) -> np.ndarray:
    """What holding 1 MW of capacity on ``route`` earns per hour: used only when in the money."""
    return np.maximum(route.energy_net(np.asarray(p_from), np.asarray(p_to)), 0.0)


def previous_days_mean(days: int = 7) -> Signal:
    """Expected payoff of each period: the mean payoff of the same period over the previous days."""

    def signal(history: np.ndarray) -> np.ndarray:
        recent = history[-days:]
        if recent.shape[0] == 0:
            return np.full(history.shape[1], np.nan)
        with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
            sup.filter(RuntimeWarning)
            return np.nanmean(recent, axis=0)

    return signal


@dataclass(frozen=True, slots=True)
class Pnl:
    """Per MW: what was paid for capacity, what it paid back, and the difference."""

    periods: int
    payoff_eur: float
    cost_eur: float

    @property
    def pnl_eur(self) -> float:
        return self.payoff_eur - self.cost_eur


def hold_pnl(payoff: np.ndarray, price: np.ndarray, period_hours: float) -> Pnl:
    """Holding 1 MW for every period given: payoff and price per MW-hour."""
    return Pnl(len(payoff), float(np.sum(payoff)) * period_hours, float(np.sum(price)) * period_hours)


def buy_on_signal(
    payoff: np.ndarray, price: np.ndarray, expected: np.ndarray, period_hours: float
) -> tuple[Pnl, np.ndarray]:
    """Buy 1 MW only in periods where the signal expects the payoff to beat the price."""
    with np.errstate(invalid="ignore"):
        bought = np.asarray(expected > price, dtype=bool)
    return hold_pnl(payoff[bought], price[bought], period_hours), bought
