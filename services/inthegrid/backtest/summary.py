"""summary.json: per pair and in total, what the rule found and what it was worth (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np

from inthegrid.backtest.borders import PAIR_CAVEAT, borders_summary
from inthegrid.backtest.engine import BacktestResult, PairEvaluation
from inthegrid.backtest.labels import eras_of, row_captures
from inthegrid.backtest.strategies import PeriodSignal, strategies_summary
from inthegrid.domain.capacity import CapacityBook
from inthegrid.domain.capture import era_of
from inthegrid.domain.rights import Signal
from inthegrid.sources.jao import AuctionPrices


def _r(value: float, digits: int) -> float:
    return round(float(value), digits)


def _capture_summary(ev: PairEvaluation, eras: np.ndarray, period_hours: float) -> dict[str, Any]:
    """How the opportunity periods' value could be captured, per MW of the route's capacity."""
    sel = ev.opportunity
    if not sel.any():
        return {
            "capture_periods": {},
            "ex_post_profit_eur_per_mw": 0.0,
            "ex_post_congestion_value_eur_per_mw": 0.0,
        }
    caps = row_captures(
        ev.model.forward, ev.model.backward, ev.values.buy_is_first[sel], ev.values.route_index[sel], eras
    )
    labels = caps.column(lambda c: c.capture.label)
    names, counts = np.unique(labels.astype(str), return_counts=True)
    spread = np.abs(ev.price_a[sel] - ev.price_b[sel])
    net = ev.values.net_eur_mwh[sel]
    return {
        "capture_periods": {str(k): int(v) for k, v in zip(names, counts, strict=True)},
        "weakest_hops": sorted({c.weakest_hop_label for c in caps.labels}),
        "flow_based_approximation_periods": int(caps.column(lambda c: bool(c.flow_based)).astype(bool).sum()),
        # Ex post (hindsight: only the periods that turned out in the money, an upper bound). Only
        # capturable periods are profit; coupled ones are the operators' congestion income.
        "ex_post_profit_eur_per_mw": _r(np.sum(net[caps.capturable]) * period_hours, 2),
        "ex_post_congestion_value_eur_per_mw": _r(np.sum(spread[caps.congestion]) * period_hours, 2),
    }


def pair_summary(ev: PairEvaluation, period_hours: float, eras: np.ndarray | None = None) -> dict[str, Any]:
    """The issue's fields; ``hours`` counts periods (hours in an hourly table) where both prices exist."""
    net = ev.opportunity_net
    if eras is None:
        eras = np.zeros(0, dtype=np.int64)
    eras = eras[ev.rows[ev.opportunity]] if len(eras) else np.full(ev.opportunity_periods, era_of(None))
    out: dict[str, Any] = {
        "zones": sorted(ev.pair),
        "hours": ev.periods,
        "opportunity_hours": ev.opportunity_periods,
        "mean_net_spread": _r(net.mean(), 4) if len(net) else None,
        "max_net_spread": _r(net.max(), 2) if len(net) else None,
        "value_eur_per_mw": _r(np.sum(net) * period_hours, 2),
        "equal_price_share": _r(ev.equal_price.mean(), 4) if ev.periods else None,
    }
    if ev.missing_zones:
        out["missing_zones"] = list(ev.missing_zones)
    if ev.model.unreachable_reason:
        out["unreachable"] = ev.model.unreachable_reason
    out.update(_capture_summary(ev, eras, period_hours))
    if ev.opportunity_periods:
        first = ev.values.buy_is_first[ev.opportunity]
        buy_first = int(first.sum())
        out["direction_periods"] = {
            f"{ev.pair[0]}->{ev.pair[1]}": buy_first,
            f"{ev.pair[1]}->{ev.pair[0]}": int(len(first) - buy_first),
        }
    return out


def build_summary(
    result: BacktestResult,
    auctions: AuctionPrices | None = None,
    signal: Signal | None = None,
    capacities: CapacityBook | None = None,
    forecast: PeriodSignal | None = None,
) -> dict[str, Any]:
    table = result.table
    hours = table.period_hours
    index = result.index
    eras = eras_of(index)
    pairs = [pair_summary(ev, hours, eras) for ev in result.pairs]
    borders = borders_summary(result, capacities)
    total_value = sum(p["value_eur_per_mw"] for p in pairs)
    best = max(pairs, key=lambda p: p["value_eur_per_mw"], default=None)
    return {
        "rule": result.rule.name,
        "market": result.rule.market.value,
        "period": table.period.iso,
        "from": index[0].isoformat() if len(index) else None,
        "to": (index[-1] + table.period.delta).isoformat() if len(index) else None,
        "table_zones": list(table.zones),
        "ignored_columns": list(table.ignored_columns),
        "missing_zones": list(result.missing_zones),
        "min_net_spread_eur_per_mwh": result.rule.min_net,
        "min_profit_eur": result.rule.min_profit,
        "pairs_caveat": PAIR_CAVEAT,
        "pairs": pairs,
        "borders": borders,
        "strategies": strategies_summary(result, auctions, signal, forecast),
        "totals": {
            # Each border once per period: safe to add up (pair values are not).
            "congestion_value_eur": _r(sum(b["congestion_value_eur"] for b in borders), 2),
            "pairs": len(pairs),
            "pairs_evaluated": sum(1 for ev in result.pairs if ev.periods),
            "hours": sum(p["hours"] for p in pairs),
            "opportunity_hours": sum(p["opportunity_hours"] for p in pairs),
            "value_eur_per_mw": _r(total_value, 2),
            "best_pair": best["zones"] if best and best["value_eur_per_mw"] > 0 else None,
        },
    }
