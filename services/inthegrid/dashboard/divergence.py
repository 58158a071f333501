"""The divergence tab: how often a border's prices are equal, when (month x hour) and in which
direction they part, and how zone prices move together (the gateway's /api/analytics)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from inthegrid.dashboard.client import GatewayClient, GatewayUnavailableError
from inthegrid.dashboard.render import empty_figure, wrap_text
from inthegrid.domain.grid import DEFAULT_BORDERS

MARKET_ZONE = ZoneInfo("Europe/Brussels")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
BORDER_CHOICES = [f"{b.key[0]}/{b.key[1]}" for b in DEFAULT_BORDERS]
EQUAL_SHARE = "Share of hours with equal prices"
MEAN_SPREAD = "Mean spread (second zone minus first)"
YEAR_COLUMNS = {
    "year": "Year",
    "periods": "Hours",
    "converged_share": "Equal prices",
    "a_dearer_share": "{a} dearer",
    "b_dearer_share": "{b} dearer",
    "mean_abs_spread_diverged_eur_mwh": "Mean gap when apart (€/MWh)",
}


def day_bounds(first: str, last: str) -> tuple[str, str]:
    """Market-time days 'YYYY-MM-DD' (inclusive) to the API's [from, to) in UTC, so a calendar year
    here is the year the exchanges count; a clear ValueError otherwise."""
    try:
        start = datetime.fromisoformat(first.strip()).replace(tzinfo=MARKET_ZONE)
        end = datetime.fromisoformat(last.strip()).replace(tzinfo=MARKET_ZONE) + timedelta(days=1)
    except ValueError:
        raise ValueError(f"dates must be YYYY-MM-DD (got {first!r} and {last!r})") from None
    if end <= start:
        raise ValueError("the last day must not be before the first")
    return tuple(m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for m in (start, end))  # type: ignore[return-value]


def render_heatmap(answer: dict[str, Any]) -> go.Figure:
    """Month (rows) x hour of day (columns, Brussels time) from /api/analytics/heatmap."""
    grid = answer.get("z") or []
    if not any(v is not None for row in grid for v in row):
        return empty_figure("No hours with both prices in this period")
    a, b = answer["pair"]
    share = answer["value"] == "converged_share"
    z = [[None if v is None else (100 * v if share else v) for v in row] for row in grid]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{h:02d}" for h in answer["hours"]],
            y=MONTHS,
            colorscale="Blues" if share else "RdBu",
            zmid=None if share else 0,
            zmin=0 if share else None,
            zmax=100 if share else None,
            colorbar={"title": "%" if share else "€/MWh"},
            hovertemplate="%{y}, %{x}:00 — %{z:.1f}" + ("%" if share else " €/MWh") + "<extra></extra>",
        )
    )
    title = (
        f"Hours when {a} and {b} had the same price (%)"
        if share
        else f"Mean spread {b} − {a} (€/MWh; red: {a} dearer, blue: {b} dearer)"
    )
    figure.update_layout(
        title=title,
        xaxis_title="hour of day (Brussels time)",
        yaxis={"autorange": "reversed"},
        height=420,
        margin={"l": 50, "r": 20, "t": 60, "b": 50},
    )
    return figure


def render_correlation(answer: dict[str, Any]) -> go.Figure:
    zones, matrix = answer.get("zones") or [], answer.get("matrix") or []
    if not zones:
        return empty_figure("No prices in this period")
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=zones,
            y=zones,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            text=[["" if v is None else f"{v:.2f}" for v in row] for row in matrix],
            texttemplate="%{text}",
            hovertemplate="%{y} vs %{x}: %{z:.2f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Correlation of hourly prices (1 = move together)",
        yaxis={"autorange": "reversed"},
        height=460,
        margin={"l": 70, "r": 20, "t": 60, "b": 60},
    )
    return figure


def render_years(answer: dict[str, Any]) -> pd.DataFrame:
    a, b = answer.get("pair") or ["A", "B"]
    rows = answer.get("rows") or []
    if not rows:
        return pd.DataFrame(columns=[c.format(a=a, b=b) for c in YEAR_COLUMNS.values()])
    frame = pd.DataFrame(rows)[list(YEAR_COLUMNS)]
    for column in ("converged_share", "a_dearer_share", "b_dearer_share"):
        frame[column] = (100 * frame[column]).round(1).astype(str) + " %"
    frame["mean_abs_spread_diverged_eur_mwh"] = frame["mean_abs_spread_diverged_eur_mwh"].round(2)
    return frame.rename(columns={k: v.format(a=a, b=b) for k, v in YEAR_COLUMNS.items()})


def render_summary(years: dict[str, Any], negative: dict[str, Any]) -> str:
    a, b = years["pair"]
    rows = years.get("rows") or []
    hours = sum(r["periods"] for r in rows)
    if not hours:
        return f"No hours with prices for both {a} and {b} in this period."
    equal = sum(r["converged_share"] * r["periods"] for r in rows) / hours
    a_dearer = sum(r["a_dearer_share"] * r["periods"] for r in rows) / hours
    lines = [
        f"**{a} and {b} had the same price in {100 * equal:.1f} % of {hours:,} hours.** "
        f"{a} was dearer in {100 * a_dearer:.1f} %, {b} in {100 * (1 - equal - a_dearer):.1f} %.",
        "Equal prices mean the border had spare capacity; a gap means it was full. On coupled "
        "day-ahead borders that gap is *congestion income* for the grid operators, not a trader's profit.",
    ]
    negatives = [r for r in negative.get("rows") or [] if r["hours"]]
    if negatives:
        text = ", ".join(f"{r['zone']} {r['year']}: {r['hours']:.0f} h" for r in negatives)
        lines.append(f"Hours with negative prices: {text}.")
    return "\n\n".join(lines)


async def load_divergence(
    client: GatewayClient, border: str, first: str, last: str, value: str
) -> tuple[str, pd.DataFrame, Any, Any]:
    try:
        start, end = day_bounds(first, last)
    except ValueError as exc:
        failed = empty_figure(str(exc))
        return f"**{exc}**", render_years({}), failed, failed
    span = {"from": start, "to": end}
    zones = ",".join(border.split("/"))
    try:
        years, grid, correlation, negative = await asyncio.gather(
            client.get_json("/api/analytics/divergence", {"pair": border, "by": "year", **span}),
            client.get_json(
                "/api/analytics/heatmap",
                {
                    "pair": border,
                    "value": "converged_share" if value == EQUAL_SHARE else "mean_spread_eur_mwh",
                    **span,
                },
            ),
            client.get_json("/api/analytics/correlation", span),
            client.get_json("/api/analytics/negative-hours", {"zone": zones, **span}),
        )
    except GatewayUnavailableError as exc:
        failed = empty_figure(wrap_text(str(exc)))
        return f"**{exc}**", render_years({}), failed, failed
    return (
        render_summary(years, negative),
        render_years(years),
        render_heatmap(grid),
        render_correlation(correlation),
    )


def build_divergence_tab(client: GatewayClient) -> None:
    """Components and events of the tab; call inside a ``gr.Tab`` context."""
    year = datetime.now(UTC).year - 1
    gr.Markdown(
        "How often do two neighbouring zones have the same day-ahead price, and when do they drift "
        "apart? Pick a border and a period, then press **Analyse**. Days and hours are Brussels market time."
    )
    with gr.Row():
        border = gr.Dropdown(BORDER_CHOICES, value="DE-LU/FR", label="Border", allow_custom_value=True)
        first = gr.Textbox(f"{year}-01-01", label="First day (YYYY-MM-DD)", elem_id="divergence-from")
        last = gr.Textbox(f"{year}-12-31", label="Last day (YYYY-MM-DD)", elem_id="divergence-to")
        value = gr.Radio([EQUAL_SHARE, MEAN_SPREAD], value=EQUAL_SHARE, label="Heatmap shows")
        run = gr.Button("Analyse", variant="primary", elem_id="divergence-run")
    summary = gr.Markdown(elem_id="divergence-summary")
    years = gr.Dataframe(render_years({}), label="By year", interactive=False, elem_id="divergence-years")
    with gr.Row():
        heatmap = gr.Plot(
            empty_figure("Press Analyse"), label="By month and hour", elem_id="divergence-heatmap"
        )
        correlation = gr.Plot(
            empty_figure("Press Analyse"), label="Correlation", elem_id="correlation-matrix"
        )

    async def on_run(border_v: str, first_v: str, last_v: str, value_v: str) -> tuple[Any, ...]:
        return await load_divergence(client, border_v, first_v, last_v, value_v)

    run.click(
        on_run,
        inputs=[border, first, last, value],
        outputs=[summary, years, heatmap, correlation],
        concurrency_limit=4,
    )
