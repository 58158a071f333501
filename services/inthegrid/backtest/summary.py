"""summary.json: per pair and in total, what the rule found and what it was worth (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np

from inthegrid.backtest.engine import BacktestResult, PairEvaluation


def _r(value: float, digits: int) -> float:
    return round(float(value), digits)


def pair_summary(ev: PairEvaluation, period_hours: float) -> dict[str, Any]:
    """The issue's fields; ``hours`` counts periods (hours in an hourly table) where both prices exist."""
    net = ev.opportunity_net
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
    if ev.opportunity_periods:
        first = ev.values.buy_is_first[ev.opportunity]
        buy_first = int(first.sum())
        out["direction_periods"] = {
            f"{ev.pair[0]}->{ev.pair[1]}": buy_first,
            f"{ev.pair[1]}->{ev.pair[0]}": int(len(first) - buy_first),
        }
    return out


def build_summary(result: BacktestResult) -> dict[str, Any]:
    table = result.table
    hours = table.period_hours
    pairs = [pair_summary(ev, hours) for ev in result.pairs]
    index = result.index
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
        "pairs": pairs,
        "totals": {
            "pairs": len(pairs),
            "pairs_evaluated": sum(1 for ev in result.pairs if ev.periods),
            "hours": sum(p["hours"] for p in pairs),
            "opportunity_hours": sum(p["opportunity_hours"] for p in pairs),
            "value_eur_per_mw": _r(total_value, 2),
            "best_pair": best["zones"] if best and best["value_eur_per_mw"] > 0 else None,
        },
    }
