"""The report's divergence section (inthegrid.analytics): for the rule's zones, how often each real
border's prices were equal by month and hour, how zone prices correlate, hours with negative prices,
and the congestion value of each border and direction.

Kept apart from report.py so that page's figures and this section change independently.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from inthegrid.analytics.congestion import congestion_value
from inthegrid.analytics.correlation import correlation_matrix
from inthegrid.analytics.divergence import heatmap
from inthegrid.analytics.frames import borders_in
from inthegrid.analytics.negative import negative_hours
from inthegrid.analytics.terms import CONGESTION_NOTE

TOP_BORDERS = 4  # heatmaps drawn; the congestion table lists every border
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def convergence_heatmaps(frame: pd.DataFrame, borders: Sequence[tuple[str, str]]) -> go.Figure:
    cols = 2
    rows = max(1, (len(borders) + cols - 1) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{a} = {b}" for a, b in borders])
    for i, (a, b) in enumerate(borders):
        grid = heatmap(frame, a, b) * 100
        fig.add_trace(
            go.Heatmap(
                z=grid.to_numpy().round(1),
                x=[f"{h:02d}" for h in grid.columns],
                y=MONTHS,
                coloraxis="coloraxis",
                hovertemplate="%{y} %{x}:00: %{z}% equal<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title="Share of hours with equal prices per border, by month and hour of day (Brussels time), %",
        coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 100},
        height=max(380, 320 * rows),
    )
    return fig


def correlation_figure(frame: pd.DataFrame) -> go.Figure:
    matrix = correlation_matrix(frame)
    values = matrix.to_numpy().round(2)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=list(matrix.columns),
            y=list(matrix.index),
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            text=values,
            texttemplate="%{text}",
        )
    )
    fig.update_layout(title="Correlation of zone prices", yaxis={"autorange": "reversed"}, height=460)
    return fig


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, na_rep="–", float_format=lambda v: f"{v:,.2f}", border=0)


def render_divergence_section(
    frame: pd.DataFrame, zones: Sequence[str], period_hours: float, *, include_plotlyjs: bool
) -> list[str]:
    """HTML parts of the section (empty when fewer than two of the zones have prices)."""
    present = [z for z in zones if z in frame.columns and frame[z].notna().any()]
    if len(present) < 2:
        return []
    part = frame[present]
    borders = [b.key for b in borders_in(present)]
    parts = ["<h2>Divergence: when and how often prices part</h2>"]
    figures = [correlation_figure(part)]
    if borders:
        figures.insert(0, convergence_heatmaps(part, borders[:TOP_BORDERS]))
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs and i == 0))
    negative = negative_hours(part, period_hours)
    parts += ["<h3>Hours with negative prices (per market-time year)</h3>", _table(negative.reset_index())]
    if borders:
        congestion = congestion_value(part, borders_in(present), period_hours)
        shown = congestion[
            [
                "border",
                "from_zone",
                "to_zone",
                "congested_hours",
                "mean_spread_eur_mwh",
                "congestion_value_eur_per_mw",
            ]
        ]
        parts += [
            "<h3>Congestion value per border and direction (EUR per MW of capacity)</h3>",
            f"<p class='note'>{html.escape(CONGESTION_NOTE)}.</p>",
            _table(shown),
        ]
    return parts
