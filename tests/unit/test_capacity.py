"""Which capacity a valuation uses, what is left of it, and flows against the spread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inthegrid.domain.capacity import (
    BorderQuantity,
    CapacityBook,
    CapacityKind,
    adverse_flow,
    hop_capacity,
    path_capacity,
)
from inthegrid.domain.grid import DEFAULT_GRID
from inthegrid.errors import ValidationError

T0 = datetime(2026, 3, 19, 6, tzinfo=UTC)
HOUR = timedelta(hours=1)


def q(source: str, target: str, mw: float, kind: CapacityKind, start: datetime = T0) -> BorderQuantity:
    return BorderQuantity(source, target, start, start + HOUR, mw, kind)


def test_static_capacity_when_nothing_is_published() -> None:
    hop = hop_capacity("DE-LU", "CH", T0, CapacityBook(), DEFAULT_GRID)
    assert hop.provenance == "static"
    assert hop.mw == hop.left_mw == DEFAULT_GRID.border("DE-LU", "CH").capacity_mw


def test_published_capacity_replaces_static_best_first() -> None:
    book = CapacityBook.of([q("DE-LU", "CH", 1500, CapacityKind.FORECAST)])
    assert hop_capacity("DE-LU", "CH", T0, book, DEFAULT_GRID).provenance == "A61"
    assert hop_capacity("DE-LU", "CH", T0, book, DEFAULT_GRID).mw == 1500
    book.add_all([q("DE-LU", "CH", 1192, CapacityKind.AUCTION_OFFERED)])
    hop = hop_capacity("DE-LU", "CH", T0, book, DEFAULT_GRID)
    assert (hop.mw, hop.provenance) == (1192, "auction_offered")
    book.add_all([q("DE-LU", "CH", 900, CapacityKind.OFFERED)])
    assert hop_capacity("DE-LU", "CH", T0, book, DEFAULT_GRID).provenance == "A31"
    # Only that direction and that hour.
    assert hop_capacity("CH", "DE-LU", T0, book, DEFAULT_GRID).provenance == "static"
    assert hop_capacity("DE-LU", "CH", T0 + HOUR, book, DEFAULT_GRID).provenance == "static"


def test_scheduled_exchange_takes_capacity_and_a_full_border_is_not_capturable() -> None:
    book = CapacityBook.of(
        [q("FR", "ES", 3006, CapacityKind.FORECAST), q("FR", "ES", 1000, CapacityKind.SCHEDULED)]
    )
    hop = hop_capacity("FR", "ES", T0, book, DEFAULT_GRID)
    assert (hop.mw, hop.left_mw, hop.provenance) == (3006, 2006, "A61-A09")
    book.add_all([q("FR", "ES", 3006, CapacityKind.SCHEDULED)])  # republished: the border is full
    path = path_capacity(("FR", "ES"), T0, book, DEFAULT_GRID)
    assert path.left_mw == 0 and not path.capturable
    assert path_capacity(("ES", "FR"), T0, book, DEFAULT_GRID).capturable  # the other way is free


def test_a_path_is_as_narrow_as_its_narrowest_hop() -> None:
    book = CapacityBook.of([q("FR", "CH", 700, CapacityKind.OFFERED)])
    path = path_capacity(("DE-LU", "FR", "CH"), T0, book, DEFAULT_GRID)
    assert path.mw == 700
    assert path.provenance == "DE-LU->FR:static, FR->CH:A31"
    with pytest.raises(ValidationError):
        path_capacity(("FR",), T0, book, DEFAULT_GRID)


def test_quantities_are_validated() -> None:
    with pytest.raises(ValidationError, match="not >= 0"):
        q("FR", "ES", -1, CapacityKind.FORECAST)
    with pytest.raises(ValidationError, match="ends before"):
        BorderQuantity("FR", "ES", T0, T0, 1, CapacityKind.FORECAST)


def test_adverse_flow_is_flagged_and_explained_in_flow_based_regions() -> None:
    # DK1->GB is not flow-based: 1362 MW from 120 to 80 EUR/MWh runs against the spread.
    flow = q("DK1", "GB", 1362, CapacityKind.PHYSICAL, datetime(2023, 12, 20, 17, tzinfo=UTC))
    flag = adverse_flow(flow, 120.0, 80.0)
    assert flag is not None and flag.flow_based is None and "against the price spread" in flag.note
    assert adverse_flow(flow, 80.0, 120.0) is None  # with the spread: normal
    assert adverse_flow(q("DK1", "GB", 1362, CapacityKind.FORECAST), 120.0, 80.0) is None  # not a flow
    # FR->DE-LU inside Core (flow-based since 2022-06-09): legitimate, and the flag says so.
    core = adverse_flow(q("FR", "DE-LU", 500, CapacityKind.SCHEDULED), 90.0, 60.0)
    assert core is not None and core.flow_based == "Core" and "legitimate" in core.note


def test_the_book_forgets_figures_that_ended_before_a_cutoff() -> None:
    book = CapacityBook.of(
        [q("FR", "ES", 1, CapacityKind.FORECAST), q("FR", "ES", 2, CapacityKind.FORECAST, T0 + HOUR)]
    )
    assert book.forget_before(T0 + HOUR) == 1
    assert len(book) == 1 and book.at("FR", "ES", CapacityKind.FORECAST, T0) is None
    assert book.forget_before(T0 + 2 * HOUR) == 1 and len(book) == 0
