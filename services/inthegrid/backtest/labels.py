"""Capture labels for backtest rows: the domain's ``capture_in_era`` per route and era, vectorised.

A path's label changes only on a few dates (``LABEL_CHANGES``), so each row is mapped to its era
and each (direction, route, era) combination is labelled once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from inthegrid.domain.capture import LABEL_CHANGES, Capture, PathCapture, capture_in_era
from inthegrid.domain.grid import Route

_CHANGES_NS = np.array([pd.Timestamp(c).value for c in LABEL_CHANGES], dtype=np.int64)


def eras_of(index: pd.DatetimeIndex) -> np.ndarray:
    """The era (see ``domain.capture.era_of``) of every timestamp."""
    return np.searchsorted(_CHANGES_NS, pd.DatetimeIndex(index).as_unit("ns").asi8, side="right")


@dataclass(frozen=True)
class RowCaptures:
    """One PathCapture per row, held as codes into ``labels``."""

    codes: np.ndarray
    labels: tuple[PathCapture, ...]

    def column(self, pick: Callable[[PathCapture], object]) -> np.ndarray:
        values = np.array([pick(c) for c in self.labels] or [None], dtype=object)
        return values[self.codes] if len(self.codes) else np.empty(0, dtype=object)

    @property
    def capturable(self) -> np.ndarray:
        return self.column(lambda c: c.capturable).astype(bool)

    @property
    def congestion(self) -> np.ndarray:
        return self.column(lambda c: c.capture is Capture.CONGESTION_INCOME).astype(bool)


def row_captures(
    forward: tuple[Route, ...],
    backward: tuple[Route, ...],
    buy_is_first: np.ndarray,
    route_index: np.ndarray,
    eras: np.ndarray,
) -> RowCaptures:
    """The label of the route each row took, on the row's date."""
    n_routes = max(len(forward), len(backward), 1)
    n_eras = len(LABEL_CHANGES) + 1
    key = (buy_is_first.astype(np.int64) * n_routes + route_index) * n_eras + eras
    unique, codes = np.unique(key, return_inverse=True)
    labels = []
    for k in unique.tolist():
        era = k % n_eras
        first, idx = divmod(k // n_eras, n_routes)
        routes = forward if first else backward
        labels.append(capture_in_era(routes[idx].path, era))
    return RowCaptures(codes.reshape(-1), tuple(labels))
