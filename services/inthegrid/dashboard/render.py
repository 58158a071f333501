"""Pure rendering for the dashboard: API JSON in, Plotly figures and tables out.

No I/O here, so every view is unit-tested with plain dicts, and an empty or missing answer turns
into a figure that says "No data yet" instead of an empty frame people mistake for a bug.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

NO_DATA = "No data yet"
# Diverging: red = losing after costs, white = break-even, green = profitable.
SPREAD_COLORSCALE = [[0.0, "#b2182b"], [0.5, "#f7f7f7"], [1.0, "#1a9850"]]
OPPORTUNITY_COLUMNS = [
    "pair",
    "direction",
    "path",
    "net €/MWh",
    "capture",
    "profit € (capturable)",
    "congestion value € (not profit)",
    "weakest hop",
    "strategy",
    "rule",
    "delivery start (UTC)",
    "revision",
]
RESAMPLE_RULES = {"native": None, "hourly": "1h", "daily": "1D"}


def empty_figure(message: str = NO_DATA, *, height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        font={"size": 18, "color": "#666"},
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
    )
    fig.update_layout(
        height=height,
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin={"l": 20, "r": 20, "t": 30, "b": 20},
        template="plotly_white",
    )
    return fig


def zone_order(prices: Iterable[dict[str, Any]], spreads: Iterable[dict[str, Any]] = ()) -> list[str]:
    """Zones that appear in prices or spreads, sorted by code (a stable order across refreshes)."""
    zones = {str(p["zone"]) for p in prices if p.get("zone")}
    for s in spreads:
        zones.update(str(z) for z in s.get("pair") or ())
    return sorted(zones)


def render_latest_prices(prices: Sequence[dict[str, Any]]) -> go.Figure:
    """Horizontal bars, one per zone, cheapest at the top: stays legible with 40+ zones."""
    rows = [p for p in prices if p.get("price") is not None and p.get("zone")]
    if not rows:
        return empty_figure()
    rows = sorted(rows, key=lambda p: float(p["price"]), reverse=True)
    zones = [str(p["zone"]) for p in rows]
    values = [float(p["price"]) for p in rows]
    hover = [
        f"{p['zone']}: €{float(p['price']):.2f}/MWh<br>delivery {p.get('delivery_start', '?')}"
        f"<br>{p.get('resolution', '')} {p.get('market_type', '')}"
        for p in rows
    ]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=zones,
            orientation="h",
            text=[f"{v:.2f}" for v in values],
            textposition="auto",
            hovertext=hover,
            hoverinfo="text",
            marker={"color": values, "colorscale": "Viridis"},
        )
    )
    periods = sorted({str(p.get("delivery_start", "")) for p in rows})
    title = f"Latest price per zone (€/MWh), delivery {periods[-1]}" if periods else "Latest price per zone"
    fig.update_layout(
        title=title,
        height=max(260, 28 * len(rows) + 90),
        template="plotly_white",
        margin={"l": 70, "r": 20, "t": 50, "b": 40},
        xaxis_title="€/MWh",
    )
    return fig


def render_price_history(
    history: dict[str, Sequence[dict[str, Any]]],
    *,
    resolution: str = "native",
    title: str = "Prices per zone (€/MWh)",
) -> go.Figure:
    """One line per zone, optionally averaged to hourly or daily means."""
    frame = price_frame(history, resolution=resolution)
    if frame.empty:
        return empty_figure()
    fig = go.Figure()
    for zone, part in frame.groupby("zone", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["delivery_start"],
                y=part["price"],
                mode="lines" if len(part) > 48 else "lines+markers",
                name=str(zone),
                line={"shape": "hv"},
            )
        )
    fig.update_layout(
        title=title,
        height=420,
        template="plotly_white",
        hovermode="x unified",
        legend={"orientation": "v", "font": {"size": 11}},
        yaxis_title="€/MWh",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig


def price_frame(history: dict[str, Sequence[dict[str, Any]]], *, resolution: str = "native") -> pd.DataFrame:
    """Long table zone, delivery_start (UTC), price, averaged per hour or day when asked."""
    records = [
        {
            "zone": zone,
            "delivery_start": p.get("delivery_start") or p.get("timestamp"),
            "price": p.get("price"),
        }
        for zone, items in history.items()
        for p in items
    ]
    frame = pd.DataFrame(records, columns=["zone", "delivery_start", "price"])
    frame = frame.dropna()
    if frame.empty:
        return frame
    frame["delivery_start"] = pd.to_datetime(frame["delivery_start"], utc=True)
    frame["price"] = frame["price"].astype(float)
    rule = RESAMPLE_RULES.get(resolution)
    if rule:
        frame = (
            frame.set_index("delivery_start")
            .groupby("zone")["price"]
            .resample(rule)
            .mean()
            .dropna()
            .reset_index()
        )
    return frame.sort_values(["zone", "delivery_start"]).reset_index(drop=True)


def best_spread_per_pair(spreads: Iterable[dict[str, Any]], rule: str | None = None) -> list[dict[str, Any]]:
    """One valued entry per pair (the highest net across rules unless ``rule`` picks one)."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for s in spreads:
        if s.get("net_eur_mwh") is None or not s.get("buy_zone") or not s.get("sell_zone"):
            continue
        if rule and s.get("rule") != rule:
            continue
        key = tuple(sorted((str(s["buy_zone"]), str(s["sell_zone"]))))
        if key not in best or float(s["net_eur_mwh"]) > float(best[key]["net_eur_mwh"]):
            best[key] = s  # type: ignore[index]
    return list(best.values())


def render_spread_matrix(
    spreads: Sequence[dict[str, Any]], zones: Sequence[str] = (), rule: str | None = None
) -> go.Figure:
    """Zones x zones: the cell (row = buy, column = sell) holds the net spread of that direction."""
    valued = best_spread_per_pair(spreads, rule)
    names = sorted(set(zones) | {str(s[k]) for s in valued for k in ("buy_zone", "sell_zone")})
    if not valued or len(names) < 2:
        return empty_figure(NO_DATA + " (no pair with prices in both zones)")
    index = {z: i for i, z in enumerate(names)}
    z: list[list[float | None]] = [[None] * len(names) for _ in names]
    text: list[list[str]] = [[""] * len(names) for _ in names]
    for s in valued:
        i, j = index[str(s["buy_zone"])], index[str(s["sell_zone"])]
        net = float(s["net_eur_mwh"])
        z[i][j] = net
        text[i][j] = f"{net:.1f}" if len(names) <= 20 else ""
    limit = max((abs(v) for row in z for v in row if v is not None), default=1.0) or 1.0
    hover = "buy %{y}, sell %{x}<br>net %{z:.2f} €/MWh<extra></extra>"
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale=SPREAD_COLORSCALE,
            zmin=-limit,
            zmax=limit,
            zmid=0,
            hovertemplate=hover,
            colorbar={"title": "net €/MWh"},
            xgap=1,
            ygap=1,
        )
    )
    side = max(360, min(1100, 22 * len(names) + 160))
    fig.update_layout(
        title="Net spread: buy in row, sell in column (€/MWh after costs)",
        height=side,
        template="plotly_white",
        xaxis={"title": "sell", "side": "top", "tickangle": -45},
        yaxis={"title": "buy", "autorange": "reversed"},
        margin={"l": 80, "r": 20, "t": 90, "b": 20},
    )
    return fig


def _optional(value: Any) -> float | None:
    """A money figure that exists only for some values (profit only where capturable)."""
    return None if value is None else round(_number(value), 2)


def _capture_text(o: dict[str, Any]) -> str:
    text = str(o.get("capture") or "")
    if o.get("flow_based_approximation"):
        text += " (flow-based: pairwise approximation)"
    return text


def render_opportunities_table(opportunities: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The opportunities as people read them, best net first; columns are fixed even when empty."""
    rows = []
    for o in sorted(opportunities, key=lambda o: -_number(o.get("net_opportunity"))):
        pair = o.get("pair") or [o.get("low_market"), o.get("high_market")]
        rows.append(
            {
                "pair": "/".join(str(z) for z in pair),
                "direction": f"{o.get('low_market')} → {o.get('high_market')}",
                "path": " → ".join(str(z) for z in o.get("path") or ()),
                "net €/MWh": round(_number(o.get("net_opportunity")), 2),
                "capture": _capture_text(o),
                "profit € (capturable)": _optional(o.get("profit_eur")),
                "congestion value € (not profit)": _optional(o.get("congestion_value_eur")),
                "weakest hop": " → ".join(str(z) for z in o.get("weakest_hop") or ()),
                "strategy": o.get("strategy", ""),
                "rule": o.get("rule", ""),
                "delivery start (UTC)": o.get("delivery_start", ""),
                "revision": o.get("revision", ""),
            }
        )
    return pd.DataFrame(rows, columns=OPPORTUNITY_COLUMNS)


def render_opportunity_history(items: Sequence[dict[str, Any]]) -> pd.DataFrame:
    frame = render_opportunities_table(items)
    frame.insert(
        0,
        "status",
        [str(o.get("status", "")) for o in sorted(items, key=lambda o: -_number(o.get("net_opportunity")))],
    )
    return frame


def wrap_text(text: str, width: int = 60) -> str:
    """Plotly annotations do not wrap: break long messages into <br>-separated lines."""
    return "<br>".join(textwrap.wrap(text, width)) or text


def render_status(
    base_url: str,
    *,
    error: str | None = None,
    zones: int = 0,
    opportunities: int = 0,
    now: datetime | None = None,
) -> str:
    """One Markdown line: unreachable, empty, or live with counts and the refresh time."""
    stamp = (now or datetime.now(UTC)).strftime("%H:%M:%S UTC")
    if error:
        return f"{_dot('#c0392b')} **{error}** (last attempt {stamp}; retrying)"
    if zones == 0:
        return (
            f"{_dot('#e6a700')} **No data yet**: gateway {base_url} is up but has no prices (checked {stamp})"
        )
    return (
        f"{_dot('#1a9850')} Live from {base_url}: **{zones}** zones, **{opportunities}** open "
        f"opportunit{'y' if opportunities == 1 else 'ies'} (updated {stamp})"
    )


def _dot(color: str) -> str:
    # A coloured disc in HTML rather than an emoji: servers and kiosks often lack emoji fonts.
    return f'<span style="color:{color}">●</span>'


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0
