"""Per-border figures of a backtest: congestion value, counted once per border and period.

Pairs share borders (DE-LU/FR and AT/FR both cross DE-LU>FR), so adding pair values double-counts
capacity. Here each real border the rule's routes use is valued once per period from its two zones'
prices: the ex-post spread x capacity where the border is coupled (congestion income the grid
operators collect; an upper bound for a right holder, not a trader's profit).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inthegrid.backtest.engine import BacktestResult
from inthegrid.backtest.labels import eras_of
from inthegrid.domain.capacity import EXCHANGE_KINDS, CapacityBook, adverse_flow, hop_capacity
from inthegrid.domain.capture import LABEL_CHANGES, HopAllocation, capture_in_era
from inthegrid.domain.grid import Border
from inthegrid.domain.zones import pair_key

PAIR_CAVEAT = (
    "pair figures share borders (a border can carry several pairs' routes in the same period): "
    "add up borders, never pairs"
)


def rule_borders(result: BacktestResult) -> list[Border]:
    """Real borders on the rule's routes (the flat model: pairs that are real borders), both zones
    in the table, with the rule's figures."""
    grid = result.rule.grid
    keys: set[tuple[str, str]] = set()
    for model in result.rule.pairs.values():
        for route in (*model.forward, *model.backward):
            for a, b in zip(route.path, route.path[1:], strict=False):
                keys.add(pair_key(a, b))
    zones = set(result.table.zones)
    out = []
    for key in sorted(keys):
        border = grid.border(*key)
        if border is not None and key[0] in zones and key[1] in zones:
            out.append(border)
    return out


def border_columns(result: BacktestResult, border: Border) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows where both prices exist, price of border.key[0], price of border.key[1])."""
    frame = result.table.frame
    a = frame[border.key[0]].to_numpy(dtype=float)
    b = frame[border.key[1]].to_numpy(dtype=float)
    rows = np.flatnonzero(~np.isnan(a) & ~np.isnan(b))
    return rows, a[rows], b[rows]


def capacity_per_period(
    result: BacktestResult, border: Border, rows: np.ndarray, source: str, target: str, book: CapacityBook
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Per period (of ``rows``): the capacity source->target, what is left of it, and how many
    periods used each figure (static, A61, A31, auction_offered, ...-A09)."""
    grid = result.rule.grid
    caps, left = np.empty(len(rows)), np.empty(len(rows))
    used: dict[str, int] = {}
    for i, moment in enumerate(result.index[rows]):
        hop = hop_capacity(source, target, moment.to_pydatetime(), book, grid)
        caps[i], left[i] = hop.mw, hop.left_mw
        used[hop.provenance] = used.get(hop.provenance, 0) + 1
    return caps, left, used


def adverse_flows(
    result: BacktestResult,
    rows: np.ndarray,
    source: str,
    target: str,
    p_source: np.ndarray,
    p_target: np.ndarray,
    book: CapacityBook,
) -> dict[str, Any]:
    """Periods whose scheduled exchange or physical flow ran source->target while source was dearer."""
    counts = {kind.value: 0 for kind in EXCHANGE_KINDS}
    flow_based: set[str] = set()
    for i, moment in enumerate(result.index[rows]):
        for kind in EXCHANGE_KINDS:
            q = book.at(source, target, kind, moment.to_pydatetime())
            flag = adverse_flow(q, float(p_source[i]), float(p_target[i])) if q is not None else None
            if flag is not None:
                counts[kind.value] += 1
                if flag.flow_based:
                    flow_based.add(flag.flow_based)
    return {"periods": counts, "flow_based": sorted(flow_based)}


def border_summary(
    result: BacktestResult, border: Border, capacities: CapacityBook | None = None
) -> dict[str, Any]:
    """One border's figures; with ``capacities``, each period and direction is valued at the
    published capacity where one exists (the static figure elsewhere), and the summary says which."""
    a, b = border.key
    hours = result.table.period_hours
    rows, pa, pb = border_columns(result, border)
    eras = eras_of(result.index[rows])
    coupled = np.zeros(len(rows), dtype=bool)
    flow_based = np.zeros(len(rows), dtype=bool)
    allocations: dict[str, int] = {}
    for era in range(len(LABEL_CHANGES) + 1):
        in_era = eras == era
        if not in_era.any():
            continue
        (hop,) = capture_in_era((a, b), era).hops
        allocations[hop.allocation.value] = allocations.get(hop.allocation.value, 0) + int(in_era.sum())
        coupled[in_era] = hop.allocation is HopAllocation.COUPLED
        flow_based[in_era] = hop.flow_based is not None
    cap = border.capacity_mw
    cap_ab: float | np.ndarray = cap
    cap_ba: float | np.ndarray = cap
    extra: dict[str, Any] = {}
    if capacities is not None:
        cap_ab, left_ab, used_ab = capacity_per_period(result, border, rows, a, b, capacities)
        cap_ba, left_ba, used_ba = capacity_per_period(result, border, rows, b, a, capacities)
        extra = {
            "capacity_used": {f"{a}->{b}": used_ab, f"{b}->{a}": used_ba},
            # Exchange or flow from the dearer to the cheaper zone: legitimate in flow-based regions
            # (listed), against the spread elsewhere.
            "adverse_flows": {
                f"{a}->{b}": adverse_flows(result, rows, a, b, pa, pb, capacities),
                f"{b}->{a}": adverse_flows(result, rows, b, a, pb, pa, capacities),
            },
            # Periods in which nothing was left for a later (intraday) trade in that direction.
            "periods_without_capacity_left": {
                f"{a}->{b}": int(np.sum(left_ab <= 0)),
                f"{b}->{a}": int(np.sum(left_ba <= 0)),
            },
        }
    a_to_b = np.where(coupled, np.maximum(pb - pa, 0.0), 0.0) * cap_ab * hours
    b_to_a = np.where(coupled, np.maximum(pa - pb, 0.0), 0.0) * cap_ba * hours
    return {
        "border": f"{a}/{b}",
        "name": border.name or None,
        "capacity_mw": cap,
        "periods": len(rows),
        "allocation_periods": allocations,
        "flow_based_periods": int(flow_based.sum()),
        "congested_periods": int(np.sum(coupled & (np.abs(pa - pb) >= 0.005))),
        # Ex post and an upper bound: the grid operators' congestion income at this capacity.
        "congestion_value_eur": round(float(a_to_b.sum() + b_to_a.sum()), 2),
        "congestion_value_by_direction_eur": {
            f"{a}->{b}": round(float(a_to_b.sum()), 2),
            f"{b}->{a}": round(float(b_to_a.sum()), 2),
        },
        **extra,
    }


def borders_summary(result: BacktestResult, capacities: CapacityBook | None = None) -> list[dict[str, Any]]:
    return [border_summary(result, border, capacities) for border in rule_borders(result)]
