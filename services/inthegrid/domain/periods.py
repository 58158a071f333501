"""Pairing prices of different resolutions: a coarser price holds for each finer period it covers.

Since 2025-10-01 most zones clear in 15-minute periods while others (CH, GB) publish hourly. A
pair is valued at the finer period: an hourly price pairs with each quarter-hour of its hour, as
the backtest's table does (``sources.table.prices_to_table``). The live calculator and the
gateway use these functions, so live and backtest pair the same prices.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator
from datetime import datetime, timedelta

from inthegrid.domain.prices import Price, Resolution

# (start, resolution) -> the zone's price for exactly that period, or None.
Lookup = Callable[[datetime, Resolution], Price | None]


# Computed once: these run for every price on the calculator's hot path.
_COARSER = {res: tuple(r for r in sorted(Resolution) if r > res and r % res == 0) for res in Resolution}
_FINER = {res: tuple(r for r in sorted(Resolution) if r < res and res % r == 0) for res in Resolution}


def coarser(resolution: Resolution) -> tuple[Resolution, ...]:
    """Resolutions whose periods are whole multiples of ``resolution``'s, nearest first."""
    return _COARSER[resolution]


def finer(resolution: Resolution) -> tuple[Resolution, ...]:
    return _FINER[resolution]


def _covering_start(start: datetime, coarse: Resolution) -> datetime:
    # ``start`` is a validated UTC period start (Price.delivery_start): only minutes need flooring.
    minutes = int(coarse)
    return start.replace(minute=(start.minute // minutes) * minutes if minutes < 60 else 0)


def price_for_period(
    lookup: Lookup, start: datetime, resolution: Resolution, held: Container[Resolution] | None = None
) -> tuple[Price | None, bool]:
    """(the price that holds for the period, whether it is the zone's own price at that resolution).

    The zone's own price for the period wins; else the nearest coarser price covering it. ``held``
    (optional) names the resolutions the zone has prices at, so others are not looked up.
    """
    own = lookup(start, resolution)
    if own is not None:
        return own, True
    for coarse in coarser(resolution):
        if held is not None and coarse not in held:
            continue
        covering = lookup(_covering_start(start, coarse), coarse)
        if covering is not None:
            return covering, False
    return None, False


def pair_prices(
    lookup_a: Lookup,
    lookup_b: Lookup,
    start: datetime,
    resolution: Resolution,
    held_a: Container[Resolution] | None = None,
    held_b: Container[Resolution] | None = None,
) -> tuple[Price, Price] | None:
    """Both zones' prices for one period, or None. At least one must be the zone's own price at this
    resolution: two hourly prices are valued once, at their hour, not four times."""
    a, a_own = price_for_period(lookup_a, start, resolution, held_a)
    if a is None:
        return None
    b, b_own = price_for_period(lookup_b, start, resolution, held_b)
    if b is None or not (a_own or b_own):
        return None
    return a, b


def periods_touched(start: datetime, resolution: Resolution) -> Iterator[tuple[datetime, Resolution]]:
    """The periods a new price can change a pair's value in: its own, and each finer period inside."""
    yield start, resolution
    for fine in finer(resolution):
        step = timedelta(minutes=int(fine))
        for k in range(int(resolution) // int(fine)):
            yield start + k * step, fine
