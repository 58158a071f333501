"""Vectorised backtest: what a rule would have found over a price table.

Every pair of the compiled rule is valued on whole columns at once with the domain's
``value_pair_arrays`` and ``opportunity_mask`` - the same ``Route.net``, the same tie-breaking and
the same thresholds as the live calculator's ``value_pair``/``is_opportunity``, so a replay and a
backtest cannot disagree. Only periods where BOTH prices exist are valued: a gap is never filled,
so it can never create an opportunity. Zones the table lacks are reported, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from inthegrid.backtest.labels import eras_of, row_captures
from inthegrid.domain.economics import PairValues, opportunity_mask, value_pair_arrays
from inthegrid.domain.rules import CompiledRule, PairModel
from inthegrid.sources.table import PriceTable

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
# Prices are given to the cent; closer than half a cent is the same (coupled) price.
EQUAL_PRICE_TOLERANCE = 0.005


@dataclass(frozen=True)
class PairEvaluation:
    """One pair over the table: the periods where both prices exist and their values."""

    model: PairModel
    missing_zones: tuple[str, ...]
    rows: np.ndarray  # row numbers of the table where both prices exist
    price_a: np.ndarray  # price of pair[0] at those rows
    price_b: np.ndarray  # price of pair[1] at those rows
    values: PairValues
    opportunity: np.ndarray  # bool, per row in ``rows``

    @property
    def pair(self) -> tuple[str, str]:
        return self.model.pair

    @property
    def periods(self) -> int:
        return len(self.rows)

    @property
    def opportunity_periods(self) -> int:
        return int(self.opportunity.sum())

    @property
    def equal_price(self) -> np.ndarray:
        return np.abs(self.price_a - self.price_b) < EQUAL_PRICE_TOLERANCE

    @property
    def opportunity_net(self) -> np.ndarray:
        return self.values.net_eur_mwh[self.opportunity]


@dataclass(frozen=True)
class BacktestResult:
    rule: CompiledRule
    table: PriceTable
    pairs: tuple[PairEvaluation, ...]

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.table.frame.index)

    @property
    def missing_zones(self) -> tuple[str, ...]:
        return tuple(sorted({z for p in self.pairs for z in p.missing_zones}))


def evaluate_pair(
    model: PairModel, rule: CompiledRule, columns: dict[str, np.ndarray], period_hours: float
) -> PairEvaluation:
    a_zone, b_zone = model.pair
    missing = tuple(z for z in model.pair if z not in columns)
    if missing:
        empty = np.empty(0)
        values = value_pair_arrays(model, empty, empty)
        return PairEvaluation(
            model, missing, np.empty(0, dtype=np.int64), empty, empty, values, np.zeros(0, dtype=bool)
        )
    a, b = columns[a_zone], columns[b_zone]
    rows = np.flatnonzero(~np.isnan(a) & ~np.isnan(b))
    price_a, price_b = a[rows], b[rows]
    values = value_pair_arrays(model, price_a, price_b)
    # NaN nets (a pair the rule cannot route) compare False, so they are never opportunities.
    mask = np.asarray(opportunity_mask(rule, values, period_hours), dtype=bool)
    return PairEvaluation(model, (), rows, price_a, price_b, values, mask)


def run_backtest(table: PriceTable, rule: CompiledRule) -> BacktestResult:
    """Evaluate every pair of ``rule`` over ``table`` (already cut to the wanted dates)."""
    frame = table.frame
    columns = {z: frame[z].to_numpy(dtype=float) for z in frame.columns}
    pairs = tuple(
        evaluate_pair(model, rule, columns, table.period_hours) for _, model in sorted(rule.pairs.items())
    )
    return BacktestResult(rule, table, pairs)


COLUMNS = [
    "delivery_start",
    "pair",
    "buy_zone",
    "sell_zone",
    "buy_price",
    "sell_price",
    "spread_eur_mwh",
    "net_eur_mwh",
    "capacity_mw",
    "value_eur",
    "profit_eur",
    "congestion_value_eur",
    "capture",
    "capturable",
    "weakest_hop",
    "hops",
    "flow_based_approximation",
    "path",
]


class _Labels:
    """Codes for repeated text (zones, pairs, paths): a million rows share a few dozen strings."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def code(self, text: str) -> int:
        return self.codes.setdefault(text, len(self.codes))

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=list(self.codes))


def opportunities_frame(result: BacktestResult, time_format: str | None = None) -> pd.DataFrame:
    """One row per opportunity period and pair, sorted by period then pair (opportunities.csv).

    With ``time_format`` the period start is text, formatted once per table row (fast for millions).
    """
    hours = result.table.period_hours
    zones, pairs, paths, texts = _Labels(), _Labels(), _Labels(), _Labels()
    eras = eras_of(result.index)
    names = "row pair buy sell pb ps net cap path capture capturable congestion weakest hops flow_based"
    cols: dict[str, list[np.ndarray]] = {k: [] for k in names.split()}
    for ev in result.pairs:
        if not ev.opportunity_periods:
            continue
        sel = ev.opportunity
        first = ev.values.buy_is_first[sel]
        pa, pb = ev.price_a[sel], ev.price_b[sel]
        route_idx = ev.values.route_index[sel]
        za, zb = zones.code(ev.pair[0]), zones.code(ev.pair[1])
        fwd = np.array([paths.code(">".join(r.path)) for r in ev.model.forward] or [paths.code("")])
        bwd = np.array([paths.code(">".join(r.path)) for r in ev.model.backward] or [paths.code("")])
        cols["row"].append(ev.rows[sel])
        cols["pair"].append(np.full(len(pa), pairs.code(f"{ev.pair[0]}/{ev.pair[1]}")))
        cols["buy"].append(np.where(first, za, zb))
        cols["sell"].append(np.where(first, zb, za))
        cols["pb"].append(np.where(first, pa, pb))
        cols["ps"].append(np.where(first, pb, pa))
        cols["net"].append(ev.values.net_eur_mwh[sel])
        cols["cap"].append(ev.values.capacity_mw[sel])
        cols["path"].append(
            np.where(
                first, fwd[np.clip(route_idx, 0, len(fwd) - 1)], bwd[np.clip(route_idx, 0, len(bwd) - 1)]
            )
        )
        caps = row_captures(ev.model.forward, ev.model.backward, first, route_idx, eras[ev.rows[sel]])
        cols["capture"].append(caps.column(lambda c: texts.code(c.capture.label)).astype(np.int64))
        cols["capturable"].append(caps.capturable)
        cols["congestion"].append(caps.congestion)
        cols["weakest"].append(caps.column(lambda c: texts.code(c.weakest_hop_label)).astype(np.int64))
        cols["hops"].append(caps.column(lambda c: texts.code(c.hops_label)).astype(np.int64))
        cols["flow_based"].append(caps.column(lambda c: bool(c.flow_based)).astype(bool))
    if not cols["row"]:
        return pd.DataFrame(columns=COLUMNS)
    # Pairs are added in sorted order, so a stable sort by row keeps pairs sorted within a period.
    row = np.concatenate(cols["row"])
    order = np.argsort(row, kind="stable")
    flat = {k: np.concatenate(v)[order] for k, v in cols.items()}
    starts: pd.Index = result.index if time_format is None else result.index.strftime(time_format)
    net, cap = flat["net"], flat["cap"]
    value = np.round(net * cap * hours, 2)
    spread = np.round(flat["ps"] - flat["pb"], 2)
    return pd.DataFrame(
        {
            "delivery_start": starts[flat["row"]],
            "pair": pairs.categorical(flat["pair"]),
            "buy_zone": zones.categorical(flat["buy"]),
            "sell_zone": zones.categorical(flat["sell"]),
            "buy_price": flat["pb"],
            "sell_price": flat["ps"],
            "spread_eur_mwh": spread,
            "net_eur_mwh": net,
            "capacity_mw": cap,
            "value_eur": value,
            # Profit only where a trader can capture it; congestion value where a coupled hop limits it.
            "profit_eur": np.where(flat["capturable"], value, np.nan),
            "congestion_value_eur": np.where(flat["congestion"], np.round(spread * cap * hours, 2), np.nan),
            "capture": texts.categorical(flat["capture"]),
            "capturable": flat["capturable"],
            "weakest_hop": texts.categorical(flat["weakest"]),
            "hops": texts.categorical(flat["hops"]),
            "flow_based_approximation": flat["flow_based"],
            "path": paths.categorical(flat["path"]),
        }
    )


def write_opportunities_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV via pyarrow: a million rows in about a second, where pandas takes several."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pacsv.write_csv(table, str(path), pacsv.WriteOptions(quoting_style="needed"))
