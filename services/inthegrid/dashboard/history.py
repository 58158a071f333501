"""The history explorer tab: prices per zone and past opportunities over a chosen period."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import gradio as gr
import pandas as pd

from inthegrid.dashboard.client import GatewayClient, GatewayUnavailableError
from inthegrid.dashboard.render import (
    RESAMPLE_RULES,
    empty_figure,
    render_opportunity_history,
    render_price_history,
    wrap_text,
)
from inthegrid.domain.zones import ZONE_CODES

HISTORY_LIMIT = 10000  # the API's maximum page; a week of quarter-hours is 672 rows per zone
AGGREGATE_BUCKETS = {"hourly": "hour", "daily": "day"}  # resolutions /api/history/prices answers


def to_iso_utc(value: Any) -> str | None:
    """ISO-8601 UTC ('...Z') from a DateTime component value (epoch seconds, datetime or text)."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        moment = pd.Timestamp(str(value)).to_pydatetime()
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def load_history(
    client: GatewayClient, start: Any, end: Any, zones: list[str] | None, resolution: str, pair: str
) -> tuple[Any, pd.DataFrame, str | None, str]:
    try:
        start_iso, end_iso = to_iso_utc(start), to_iso_utc(end)
    except ValueError as exc:
        return (
            empty_figure(f"Invalid date: {exc}"),
            render_opportunity_history([]),
            None,
            f"Invalid date: {exc}",
        )
    chosen = zones or ["DE-LU", "FR", "NL", "BE", "AT"]
    try:
        bucket = AGGREGATE_BUCKETS.get(resolution)
        if bucket:  # hourly / daily means come aggregated from the database: years fit in one request
            histories = await asyncio.gather(
                *(client.price_buckets(z, bucket=bucket, start=start_iso, end=end_iso) for z in chosen)
            )
        else:
            histories = await asyncio.gather(
                *(client.price_history(z, start=start_iso, end=end_iso, limit=HISTORY_LIMIT) for z in chosen)
            )
        opportunities = await client.opportunity_history(
            start=start_iso, end=end_iso, pair=pair or None, limit=HISTORY_LIMIT
        )
    except GatewayUnavailableError as exc:
        return empty_figure(wrap_text(str(exc))), render_opportunity_history([]), None, f"**{exc}**"
    table = render_opportunity_history(opportunities)
    csv_path = None
    if not table.empty:
        with tempfile.NamedTemporaryFile("w", suffix="-opportunities.csv", delete=False) as out:
            table.to_csv(out, index=False)
            csv_path = out.name
    points = sum(len(h) for h in histories)
    note = (
        f"{points} prices in {len(chosen)} zones, {len(opportunities)} opportunities "
        f"between {start_iso or 'the beginning'} and {end_iso or 'now'}."
    )
    if points == 0 and not opportunities:
        note = "No data yet for this period."
    figure = render_price_history(dict(zip(chosen, histories, strict=True)), resolution=resolution)
    return figure, table, csv_path, note


def build_history_tab(client: GatewayClient) -> None:
    """Components and events of the tab; call inside a ``gr.Tab`` context."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with gr.Row():
        start = gr.DateTime((now - timedelta(days=2)).timestamp(), label="From (UTC)", timezone="UTC")
        end = gr.DateTime((now + timedelta(days=1)).timestamp(), label="To (UTC)", timezone="UTC")
        resolution = gr.Radio(list(RESAMPLE_RULES), value="native", label="Resolution")
    with gr.Row():
        zones = gr.Dropdown(
            list(ZONE_CODES),
            value=["DE-LU", "FR", "NL", "BE", "AT"],
            multiselect=True,
            label="Zones",
            allow_custom_value=True,
        )
        pair = gr.Textbox(label="Opportunity pair (optional, e.g. DE-LU/FR)")
        load = gr.Button("Load history", variant="primary")
    note = gr.Markdown()
    figure = gr.Plot(empty_figure("Choose a period and press Load history"), label="Price history")
    table = gr.Dataframe(
        render_opportunity_history([]),
        label="Opportunities in the period",
        interactive=False,
        wrap=True,
        max_height=420,
    )
    download = gr.File(label="Opportunities as CSV")

    async def on_load(
        start_v: Any, end_v: Any, zones_v: list[str], resolution_v: str, pair_v: str
    ) -> tuple[Any, ...]:
        return await load_history(client, start_v, end_v, zones_v, resolution_v, pair_v)

    load.click(
        on_load,
        inputs=[start, end, zones, resolution, pair],
        outputs=[figure, table, download, note],
        concurrency_limit=4,
    )
