"""Shared helpers: market time, the pairs to analyse, and two zones' prices aligned."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from inthegrid.analytics.terms import MARKET_TZ
from inthegrid.domain.grid import DEFAULT_BORDERS, Border
from inthegrid.domain.zones import pair_key, parse_pair
from inthegrid.errors import ValidationError

# The day-ahead auction, its gate closure and the traders' calendar run on Brussels time.


def market_time(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Delivery starts in market time (the index must be UTC-aware)."""
    return index.tz_convert(MARKET_TZ)


def require_zones(frame: pd.DataFrame, zones: Iterable[str]) -> None:
    missing = [z for z in zones if z not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "none"
        raise ValidationError(f"zone(s) {', '.join(missing)} not in the price table (it has: {have})")


def aligned_pair(frame: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Columns ``a`` and ``b`` for the periods where both have a price."""
    require_zones(frame, (a, b))
    return frame[[a, b]].dropna()


def parse_pairs(texts: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs such as ``DE-LU/FR`` or ``DE-FR``, canonical (sorted); the spread is second minus first."""
    return list(dict.fromkeys(parse_pair(t) for t in texts))


def borders_in(zones: Iterable[str], borders: Iterable[Border] = DEFAULT_BORDERS) -> list[Border]:
    """The interconnectors whose both ends are among ``zones`` (real borders only, domain.md section 2)."""
    present = set(zones)
    return [b for b in borders if b.a in present and b.b in present]


def border_for(a: str, b: str, borders: Iterable[Border] = DEFAULT_BORDERS) -> Border | None:
    key = pair_key(a, b)
    return next((x for x in borders if x.key == key), None)
