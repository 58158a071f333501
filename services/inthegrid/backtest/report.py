"""report.html: one self-contained page (plotly.js embedded once) with what a trader asks of history.

- spread distributions (price of A minus price of B, where both exist) per pair;
- hour-of-day x month heatmaps of the value found (hours in Brussels market time);
- cumulative value per pair (EUR per MW of capacity);
- price convergence: monthly share of periods with identical prices (a coupled border), per pair.

Pure: ``render_report(result, summary) -> str``. Only aggregates go into the page (binned counts,
daily sums), so its size does not grow with the number of periods.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from inthegrid.backtest.engine import BacktestResult, PairEvaluation
from inthegrid.backtest.report_divergence import render_divergence_section
from inthegrid.backtest.report_tables import borders_section, strategies_section

MARKET_TZ = "Europe/Brussels"
TOP_PAIRS = 8  # pairs drawn in the per-pair charts (by value); the table lists them all
SPREAD_BIN_EUR = 5.0
SPREAD_CLIP_EUR = 300.0


def _label(ev: PairEvaluation) -> str:
    return f"{ev.pair[0]}/{ev.pair[1]}"


def _ranked(result: BacktestResult) -> list[PairEvaluation]:
    hours = result.table.period_hours
    evaluated = [ev for ev in result.pairs if ev.periods]
    return sorted(evaluated, key=lambda ev: -float(np.sum(ev.opportunity_net)) * hours)


def spread_figure(result: BacktestResult, pairs: list[PairEvaluation]) -> go.Figure:
    edges = np.arange(-SPREAD_CLIP_EUR, SPREAD_CLIP_EUR + SPREAD_BIN_EUR, SPREAD_BIN_EUR)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    for ev in pairs:
        spread = np.clip(ev.price_a - ev.price_b, -SPREAD_CLIP_EUR, SPREAD_CLIP_EUR - 1e-9)
        counts, _ = np.histogram(spread, bins=edges)
        share = counts / max(1, ev.periods)
        fig.add_trace(
            go.Scatter(
                x=centres, y=share, mode="lines", name=f"{ev.pair[0]} − {ev.pair[1]}", line_shape="hvh"
            )
        )
    fig.update_layout(
        title=f"Spread distribution (price A − price B, {SPREAD_BIN_EUR:g} EUR/MWh bins, "
        f"clipped at ±{SPREAD_CLIP_EUR:g})",
        xaxis_title="EUR/MWh",
        yaxis_title="share of periods",
        yaxis_type="log",
        height=460,
    )
    return fig


def _value_series(result: BacktestResult, ev: PairEvaluation) -> pd.Series:
    hours = result.table.period_hours
    values = np.zeros(ev.periods)
    values[ev.opportunity] = ev.opportunity_net * hours
    return pd.Series(values, index=result.index[ev.rows])


def heatmap_figure(result: BacktestResult, pairs: list[PairEvaluation]) -> go.Figure:
    cols = 2
    rows = max(1, (len(pairs) + cols - 1) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_label(ev) for ev in pairs],
        vertical_spacing=0.08 if rows > 1 else 0.2,
    )
    for i, ev in enumerate(pairs):
        series = _value_series(result, ev)
        local = series.index.tz_convert(MARKET_TZ)
        grid = series.groupby([local.hour, local.strftime("%Y-%m")]).sum().unstack(fill_value=0.0)
        grid = grid.reindex(index=range(24), fill_value=0.0)
        fig.add_trace(
            go.Heatmap(
                z=grid.to_numpy().round(2),
                x=list(grid.columns),
                y=list(grid.index),
                coloraxis="coloraxis",
                hovertemplate="%{x} hour %{y}: %{z} EUR/MW<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_layout(
        title="Value found by hour of day (Brussels time) and month, EUR per MW",
        coloraxis={"colorscale": "Viridis"},
        height=max(360, 300 * rows),
    )
    return fig


def cumulative_figure(result: BacktestResult, pairs: list[PairEvaluation]) -> go.Figure:
    fig = go.Figure()
    for ev in pairs:
        daily = _value_series(result, ev).resample("D").sum().cumsum()
        fig.add_trace(
            go.Scatter(
                x=daily.index.strftime("%Y-%m-%d"), y=daily.to_numpy().round(2), mode="lines", name=_label(ev)
            )
        )
    fig.update_layout(
        title="Cumulative value per pair, EUR per MW of capacity", yaxis_title="EUR/MW", height=460
    )
    return fig


def convergence_figure(result: BacktestResult, pairs: list[PairEvaluation]) -> go.Figure:
    fig = go.Figure()
    for ev in pairs:
        equal = pd.Series(ev.equal_price.astype(float), index=result.index[ev.rows])
        monthly = equal.resample("MS").mean()
        fig.add_trace(
            go.Scatter(
                x=monthly.index.strftime("%Y-%m"),
                y=monthly.to_numpy().round(4),
                mode="lines+markers",
                name=_label(ev),
            )
        )
    fig.update_layout(
        title="Price convergence: monthly share of periods with identical prices",
        yaxis_title="share of periods",
        yaxis_range=[0, 1],
        height=460,
    )
    return fig


def _pairs_table(summary: dict[str, Any]) -> str:
    head = (
        "<tr><th>pair</th><th>periods</th><th>opportunity periods</th><th>mean net</th>"
        "<th>max net</th><th>value EUR/MW</th><th>ex-post profit EUR/MW (capturable, hindsight)</th>"
        "<th>ex-post congestion value EUR/MW (not profit)</th><th>capture</th><th>equal-price share</th>"
        "<th>note</th></tr>"
    )
    rows = []
    for p in sorted(summary["pairs"], key=lambda p: -p["value_eur_per_mw"]):
        note = ""
        if p.get("missing_zones"):
            note = "missing in table: " + ", ".join(p["missing_zones"])
        elif p.get("unreachable"):
            note = p["unreachable"]

        def fmt(v: Any) -> str:
            return "–" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"

        cells = [
            " / ".join(p["zones"]),
            fmt(p["hours"]),
            fmt(p["opportunity_hours"]),
            fmt(p["mean_net_spread"]),
            fmt(p["max_net_spread"]),
            fmt(p["value_eur_per_mw"]),
            fmt(p["ex_post_profit_eur_per_mw"]),
            fmt(p["ex_post_congestion_value_eur_per_mw"]),
            ", ".join(f"{k} {v:,}" for k, v in p["capture_periods"].items()),
            fmt(p["equal_price_share"]),
            note,
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.note{color:#a40}"""


def render_report(result: BacktestResult, summary: dict[str, Any]) -> str:
    """The whole page as a string; plotly.js is inlined once, so the file works offline."""
    top = _ranked(result)[:TOP_PAIRS]
    totals = summary["totals"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Backtest {html.escape(summary['rule'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Backtest of rule {html.escape(summary['rule'])}</h1>",
        f"<p>{html.escape(str(summary['from']))} to {html.escape(str(summary['to']))}, period "
        f"{summary['period']}, {totals['pairs']} pairs, {totals['opportunity_hours']:,} opportunity periods, "
        f"value {totals['value_eur_per_mw']:,.2f} EUR per MW summed over pairs "
        f"({html.escape(summary['pairs_caveat'])}); congestion value on coupled borders "
        f"{totals['congestion_value_eur']:,.2f} EUR (collected by grid operators, not profit).</p>",
    ]
    if summary["missing_zones"]:
        parts.append(
            "<p class='note'>Zones of the rule missing from the price table (not evaluated): "
            f"{html.escape(', '.join(summary['missing_zones']))}.</p>"
        )
    figures = (
        [
            spread_figure(result, top),
            heatmap_figure(result, top),
            cumulative_figure(result, top),
            convergence_figure(result, top),
        ]
        if top
        else []
    )
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    if not figures:
        parts.append("<p class='note'>No pair had periods with both prices: nothing to plot.</p>")
    zones = sorted({z for ev in result.pairs for z in ev.pair})
    parts += render_divergence_section(
        result.table.frame, zones, result.table.period_hours, include_plotlyjs=not figures
    )
    parts += ["<h2>All pairs</h2>", _pairs_table(summary)]
    parts += [borders_section(summary), strategies_section(summary), "</body></html>"]
    return "\n".join(parts)
