"""The Gradio dashboard: live prices, spreads, opportunities, borders, history and the backtest.

It reads the gateway's public API only (``GatewayClient``), so it runs mounted in the gateway at
``/dashboard`` or on its own (``inthegrid dashboard --api URL``). Views refresh on a ``gr.Timer``
tick; the opportunities table is also pushed: a per-page generator follows the gateway's
``/api/stream/opportunities`` Server-Sent Events and re-renders the table as soon as an event
arrives, so a new opportunity shows up without waiting for the next tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from inthegrid.dashboard.client import GatewayClient, GatewayUnavailableError
from inthegrid.dashboard.history import build_history_tab
from inthegrid.dashboard.map import render_border_map
from inthegrid.dashboard.render import (
    empty_figure,
    render_latest_prices,
    render_opportunities_table,
    render_price_history,
    render_spread_matrix,
    render_status,
    wrap_text,
    zone_order,
)

log = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 5.0
LIVE_HISTORY_POINTS = 96  # one day of quarter-hours per zone in the live chart
LIVE_CHART_DEFAULT_ZONES = 8  # more lines than this are unreadable; the selector adds others
PUSH_MIN_INTERVAL_SECONDS = 0.5  # coalesce bursts of events into one table render
PUSH_LIFETIME_SECONDS = 3600.0  # a forgotten tab stops holding a stream; the timer keeps working


class LiveViews:
    """Fetches what the live views need in one go and renders them; holds no per-page state."""

    def __init__(self, client: GatewayClient) -> None:
        self.client = client
        self._borders: list[dict[str, Any]] | None = None  # static per gateway: fetched once

    async def borders(self) -> list[dict[str, Any]]:
        if self._borders is None:
            self._borders = await self.client.borders()
        return self._borders

    async def refresh(self, chart_zones: list[str] | None) -> tuple[Any, ...]:
        try:
            prices, opportunities, spreads, borders, capacities = await asyncio.gather(
                self.client.latest_prices(),
                self.client.open_opportunities(),
                self.client.latest_spreads(),
                self.borders(),
                self.client.border_capacities(),
            )
        except GatewayUnavailableError as exc:
            log.info("dashboard refresh failed: %s", exc)
            failed = empty_figure(wrap_text(str(exc)))
            return (
                render_status(self.client.base_url, error=str(exc)),
                failed,
                failed,
                render_opportunities_table([]),
                failed,
                failed,
                gr.update(),
            )
        zones = zone_order(prices, spreads)
        return (
            render_status(self.client.base_url, zones=len(zones), opportunities=len(opportunities)),
            render_latest_prices(prices),
            await self.recent_prices(chart_zones, zones),
            render_opportunities_table(opportunities),
            render_spread_matrix(spreads, zones),
            render_border_map(borders, prices, spreads, capacities),
            gr.update(choices=zones),
        )

    async def recent_prices(self, chart_zones: list[str] | None, zones: list[str]) -> go.Figure:
        """The recent-history chart; history lives in the database, so it may fail on its own."""
        shown = [z for z in (chart_zones or zones[:LIVE_CHART_DEFAULT_ZONES]) if z in zones]
        try:
            histories = await asyncio.gather(
                *(self.client.price_history(z, limit=LIVE_HISTORY_POINTS) for z in shown)
            )
        except GatewayUnavailableError as exc:
            return empty_figure(wrap_text(f"Price history unavailable: {exc}"))
        return render_price_history(dict(zip(shown, histories, strict=True)), title="Recent prices (€/MWh)")

    async def push_opportunities(self) -> AsyncIterator[pd.DataFrame]:
        """Re-render the table on every opportunity event; back off while the stream is down."""
        deadline = time.monotonic() + PUSH_LIFETIME_SECONDS
        last_id: str | None = None
        delay = 1.0
        while time.monotonic() < deadline:
            try:
                async for event in self.client.stream("/api/stream/opportunities", last_event_id=last_id):
                    last_id = event.id or last_id
                    delay = 1.0
                    await asyncio.sleep(PUSH_MIN_INTERVAL_SECONDS)
                    yield render_opportunities_table(await self.client.open_opportunities())
                    if time.monotonic() >= deadline:
                        return
            except GatewayUnavailableError as exc:
                log.info("opportunity stream unavailable (%s); the timer keeps refreshing", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def build_dashboard(
    api_base_url: str, *, api_key: str | None = None, refresh_seconds: float = DEFAULT_REFRESH_SECONDS
) -> gr.Blocks:
    """The dashboard as a Blocks app reading the gateway at ``api_base_url``."""
    client = GatewayClient(api_base_url, api_key=api_key)
    live = LiveViews(client)
    with gr.Blocks(title="InTheGrid: cross-border electricity arbitrage") as demo:
        gr.Markdown("## InTheGrid · cross-border electricity arbitrage")
        status = gr.Markdown(f"Connecting to the gateway at {client.base_url} …", elem_id="status")
        timer = gr.Timer(refresh_seconds)
        with gr.Tab("Live"):
            with gr.Row():
                latest = gr.Plot(empty_figure("Loading…"), label="Latest prices", elem_id="latest-prices")
                with gr.Column():
                    recent = gr.Plot(empty_figure("Loading…"), label="Recent prices", elem_id="recent-prices")
                    chart_zones = gr.Dropdown(
                        [],
                        multiselect=True,
                        label=f"Zones in the chart (empty = first {LIVE_CHART_DEFAULT_ZONES})",
                    )
            table = gr.Dataframe(
                render_opportunities_table([]),
                label="Open opportunities (best net first)",
                elem_id="opportunities",
                interactive=False,
                wrap=True,
                max_height=480,
            )
        with gr.Tab("Spreads & borders"):
            matrix = gr.Plot(empty_figure("Loading…"), label="Net spread matrix", elem_id="spread-matrix")
            border_map = gr.Plot(empty_figure("Loading…"), label="Borders", elem_id="border-map")
        with gr.Tab("History"):
            build_history_tab(client)
        with gr.Tab("Backtest"):
            from inthegrid.dashboard.backtest import build_backtest_tab

            build_backtest_tab(client)
        with gr.Tab("Divergence"):
            from inthegrid.dashboard.divergence import build_divergence_tab

            build_divergence_tab(client)
        with gr.Tab("Forecast"):
            from inthegrid.dashboard.forecast import build_forecast_tab

            build_forecast_tab(client)

        outputs = [status, latest, recent, table, matrix, border_map, chart_zones]
        for trigger in (demo.load, timer.tick):
            trigger(
                live.refresh,
                inputs=[chart_zones],
                outputs=outputs,
                show_progress="hidden",
                concurrency_limit=None,
                trigger_mode="always_last",
            )
        chart_zones.change(
            live.refresh,
            inputs=[chart_zones],
            outputs=outputs,
            show_progress="hidden",
            concurrency_limit=None,
            trigger_mode="always_last",
        )
        demo.load(live.push_opportunities, outputs=[table], show_progress="hidden", concurrency_limit=None)
    return demo
