"""A schematic map of zones with each border coloured by its current price spread.

Positions are approximate (lon, lat) centres: enough to recognise Europe without a basemap, which
would need map tiles from a CDN the dashboard must not depend on. Zones without a known position
are placed on an arc below the map, so 40+ zones still render.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from inthegrid.dashboard.render import NO_DATA, empty_figure

ZONE_POSITIONS: dict[str, tuple[float, float]] = {
    "DE-LU": (10.4, 51.1),
    "FR": (2.4, 46.6),
    "NL": (5.0, 53.0),
    "BE": (3.4, 50.2),
    "AT": (14.0, 47.4),
    "CH": (8.2, 46.8),
    "PL": (19.4, 52.1),
    "CZ": (15.5, 49.8),
    "DK1": (9.0, 56.2),
    "DK2": (12.4, 55.0),
    "NO2": (7.5, 58.8),
    "SE4": (15.2, 56.6),
    "IT-NORD": (10.0, 45.3),
    "ES": (-3.7, 40.2),
    "PT": (-8.2, 39.6),
    "GB": (-1.9, 52.8),
    "HU": (20.2, 46.8),
    "SI": (15.0, 45.6),
    "SK": (19.6, 49.3),
}
# Spread scale: 0 = same price (grey-blue), high = a border worth looking at (red).
BORDER_COLORSCALE = "YlOrRd"


def zone_positions(zones: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Known positions, and an arc south of the map for the rest (deterministic by name)."""
    unknown = sorted(z for z in zones if z not in ZONE_POSITIONS)
    placed = {z: ZONE_POSITIONS[z] for z in zones if z in ZONE_POSITIONS}
    for i, zone in enumerate(unknown):
        angle = math.pi * (i + 1) / (len(unknown) + 1)
        placed[zone] = (5.0 + 18.0 * math.cos(angle), 37.0 - 3.0 * math.sin(angle))
    return placed


# Which published figure a direction's available capacity is, best first (domain.capacity).
_CAPACITY_KINDS = ("A31", "auction_offered", "A61")


def available_capacity(capacities: Sequence[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """Per direction, the latest published capacity as text: "3006 MW (A61)", less the schedule."""
    by: dict[tuple[str, str], dict[str, float]] = {}
    for c in capacities:
        by.setdefault((str(c["source"]), str(c["target"])), {})[str(c["kind"])] = float(c["mw"])
    out = {}
    for direction, kinds in by.items():
        base = next((k for k in _CAPACITY_KINDS if k in kinds), None)
        if base is None:
            continue
        text = f"{kinds[base]:.0f} MW ({base})"
        if "A09" in kinds:
            text += f", {max(kinds[base] - kinds['A09'], 0.0):.0f} MW left after the A09 schedule"
        out[direction] = text
    return out


def border_spreads(
    borders: Sequence[dict[str, Any]],
    prices: Sequence[dict[str, Any]],
    spreads: Sequence[dict[str, Any]],
    capacities: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Each border with |price difference| of the latest prices, the best net of a running rule and
    the published capacity per direction (static where none is published)."""
    published = available_capacity(capacities)
    price_of = {str(p["zone"]): float(p["price"]) for p in prices if p.get("price") is not None}
    net_of: dict[tuple[str, ...], float] = {}
    for s in spreads:
        if s.get("net_eur_mwh") is None or not s.get("pair"):
            continue
        key = tuple(sorted(str(z) for z in s["pair"]))
        net_of[key] = max(net_of.get(key, -math.inf), float(s["net_eur_mwh"]))
    out = []
    for b in borders:
        a, c = (str(z) for z in b["zones"])
        spread = abs(price_of[a] - price_of[c]) if a in price_of and c in price_of else None
        out.append(
            {
                "a": a,
                "b": c,
                "spread": spread,
                "net": net_of.get(tuple(sorted((a, c)))),
                "name": b.get("name") or "",
                "capacity_mw": b.get("capacity_mw"),
                "available": {
                    f"{x}→{y}": published.get((x, y), f"{b.get('capacity_mw') or 0:.0f} MW (static)")
                    for x, y in ((a, c), (c, a))
                },
            }
        )
    return out


def render_border_map(
    borders: Sequence[dict[str, Any]],
    prices: Sequence[dict[str, Any]],
    spreads: Sequence[dict[str, Any]],
    capacities: Sequence[dict[str, Any]] = (),
) -> go.Figure:
    if not borders:
        return empty_figure(NO_DATA + " (no borders)", height=520)
    rows = border_spreads(borders, prices, spreads, capacities)
    zones = sorted({r["a"] for r in rows} | {r["b"] for r in rows} | {str(p["zone"]) for p in prices})
    pos = zone_positions(zones)
    top = max((r["spread"] for r in rows if r["spread"] is not None), default=0.0) or 1.0
    fig = go.Figure()
    for r in rows:
        (x0, y0), (x1, y1) = pos[r["a"]], pos[r["b"]]
        known = r["spread"] is not None
        color = sample_colorscale(BORDER_COLORSCALE, [r["spread"] / top])[0] if known else "#cccccc"
        label = f"{r['a']}–{r['b']}{' (' + r['name'] + ')' if r['name'] else ''}<br>"
        label += f"spread {r['spread']:.2f} €/MWh" if known else "spread unknown (price missing)"
        if r["net"] is not None:
            label += f"<br>best net {r['net']:.2f} €/MWh"
        for direction, text in r["available"].items():
            label += f"<br>capacity {direction}: {text}"
        fig.add_trace(
            go.Scatter(
                x=[x0, (x0 + x1) / 2, x1],
                y=[y0, (y0 + y1) / 2, y1],
                mode="lines",
                line={"color": color, "width": 6 if known else 2, "dash": "solid" if known else "dot"},
                hovertext=[label] * 3,
                hoverinfo="text",
                showlegend=False,
            )
        )
    price_of = {str(p["zone"]): float(p["price"]) for p in prices if p.get("price") is not None}
    fig.add_trace(
        go.Scatter(
            x=[pos[z][0] for z in zones],
            y=[pos[z][1] for z in zones],
            mode="markers+text",
            text=[f"{z}<br>{price_of[z]:.1f}" if z in price_of else z for z in zones],
            textposition="middle center",
            marker={"size": 38, "color": "#ffffff", "line": {"color": "#334", "width": 1.5}},
            textfont={"size": 11},
            hoverinfo="text",
            showlegend=False,
            hovertext=[
                f"{z}: €{price_of[z]:.2f}/MWh" if z in price_of else f"{z}: no price yet" for z in zones
            ],
        )
    )
    # An invisible trace that carries the colour bar of the border colours.
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker={
                "colorscale": BORDER_COLORSCALE,
                "cmin": 0,
                "cmax": top,
                "color": [0],
                "colorbar": {"title": "spread €/MWh", "thickness": 14},
                "showscale": True,
            },
        )
    )
    fig.update_layout(
        title="Borders coloured by price spread (schematic; dotted = a price is missing)",
        height=560,
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1.4},
    )
    return fig
