"""The forecast tab: tomorrow's spread per hour of a border, as a band (P10-P90) around the median,
from the gateway's /api/forecast (made only with what was known before the day-ahead auction)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from inthegrid.dashboard.client import GatewayClient, GatewayUnavailableError
from inthegrid.dashboard.divergence import BORDER_CHOICES
from inthegrid.dashboard.render import empty_figure, wrap_text

# The first forecast loads the model (and scikit-learn) in the gateway: seconds on a busy machine.
FORECAST_TIMEOUT_SECONDS = 60.0
TABLE_COLUMNS = ["hour", "delivery_start", "p10", "p50", "p90"]
TABLE_LABELS = {
    "hour": "Hour (Brussels)",
    "delivery_start": "Delivery start (UTC)",
    "p10": "Low (P10)",
    "p50": "Expected (P50)",
    "p90": "High (P90)",
}


def render_forecast(answer: dict[str, Any]) -> go.Figure:
    rows = answer.get("rows") or []
    if not rows:
        return empty_figure("No forecast")
    a, b = answer["border"]
    hours = [r["hour"] for r in rows]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=hours,
            y=[r["p90"] for r in rows],
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=hours,
            y=[r["p10"] for r in rows],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(31,119,180,0.25)",
            name="8 in 10 outcomes (P10-P90)",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=hours,
            y=[r["p50"] for r in rows],
            mode="lines+markers",
            name="expected (P50)",
            line={"color": "#1f77b4"},
        )
    )
    figure.add_hline(y=0, line={"color": "#888", "dash": "dot"})
    figure.update_layout(
        title=f"Spread {b} − {a} on {answer['day']} (€/MWh; above 0: {b} dearer)",
        xaxis={"title": "hour of day (Brussels time)", "dtick": 1},
        yaxis_title="€/MWh",
        height=440,
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def render_forecast_table(answer: dict[str, Any]) -> pd.DataFrame:
    rows = answer.get("rows") or []
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS) if rows else pd.DataFrame(columns=TABLE_COLUMNS)
    return frame.rename(columns=TABLE_LABELS)


def render_forecast_note(answer: dict[str, Any]) -> str:
    a, b = answer["border"]
    rows = answer["rows"]
    top = max(rows, key=lambda r: abs(r["p50"]))
    direction = f"{b} dearer" if top["p50"] > 0 else f"{a} dearer"
    return (
        f"**{a}/{b} on {answer['day']}**: the largest expected gap is {abs(top['p50']):.2f} €/MWh "
        f"({direction}) at {top['hour']:02d}:00. Made from prices up to the day before and the calendar "
        f"only, as a trader could have before the auction; model trained on data up to "
        f"{answer['trained_until'][:10]}. The band holds 8 in 10 outcomes if the model is calibrated "
        "(bench/RESULTS.md: it was too narrow in 2024)."
    )


async def load_forecast(client: GatewayClient, border: str, day: str) -> tuple[str, Any, pd.DataFrame]:
    try:
        answer = await client.get_json(
            "/api/forecast/spreads", {"border": border, "day": day.strip() or None}
        )
    except GatewayUnavailableError as exc:
        return f"**{exc}**", empty_figure(wrap_text(str(exc))), render_forecast_table({})
    return render_forecast_note(answer), render_forecast(answer), render_forecast_table(answer)


def build_forecast_tab(client: GatewayClient) -> None:
    """Components and events of the tab; call inside a ``gr.Tab`` context."""
    client = client.with_timeout(FORECAST_TIMEOUT_SECONDS)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    gr.Markdown(
        "What will a border's day-ahead spread be tomorrow, hour by hour? The forecast uses only "
        "prices published before the auction closes (12:00 CET the day before) and the calendar. "
        "Pick a border and a delivery day (tomorrow or earlier), then press **Forecast**."
    )
    with gr.Row():
        border = gr.Dropdown(BORDER_CHOICES, value="DE-LU/FR", label="Border", allow_custom_value=True)
        day = gr.Textbox(tomorrow, label="Delivery day (YYYY-MM-DD)", elem_id="forecast-day")
        run = gr.Button("Forecast", variant="primary", elem_id="forecast-run")
    note = gr.Markdown(elem_id="forecast-note")
    plot = gr.Plot(empty_figure("Press Forecast"), label="Spread forecast", elem_id="forecast-plot")
    table = gr.Dataframe(
        render_forecast_table({}), label="Per hour", interactive=False, elem_id="forecast-table"
    )

    async def on_run(border_v: str, day_v: str) -> tuple[Any, ...]:
        return await load_forecast(client, border_v, day_v)

    run.click(on_run, inputs=[border, day], outputs=[note, plot, table], concurrency_limit=4)
