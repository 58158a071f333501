"""report.html tables that say what each value is: per border, per strategy (pure HTML strings)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def borders_section(summary: dict[str, Any]) -> str:
    rows = [
        [
            b["border"],
            b["capacity_mw"],
            ", ".join(f"{k} {v:,}" for k, v in b["allocation_periods"].items()),
            b["flow_based_periods"],
            b["congested_periods"],
            b["congestion_value_eur"],
            *b["congestion_value_by_direction_eur"].items(),
        ]
        for b in summary["borders"]
    ]
    head = ["border", "MW", "allocation (periods)", "flow-based periods", "congested periods"]
    head += ["congestion value EUR (upper bound, not profit)", "by direction", ""]
    return (
        "<h2>Borders (each counted once per period)</h2><p>On a coupled border the ex-post spread x "
        "capacity is congestion income collected by the grid operators: an upper bound of what a "
        "transmission-right holder could have earned, not something a trader earns. Flow-based "
        "periods rely on a pairwise border approximation.</p>" + table(head, rows)
    )


def strategies_section(summary: dict[str, Any]) -> str:
    strategies = summary["strategies"]
    rights = [
        [
            r["border"],
            r["direction"],
            r["product"],
            r["products"],
            r["partial_products"],
            r["payoff_eur_per_mw"],
            r["price"],
            r["cost_eur_per_mw"],
            r["pnl_eur_per_mw"],
            r["break_even_price_eur_mwh"],
        ]
        for r in strategies["transmission_rights"]
    ]
    explicit = [
        [
            r["border"],
            r["direction"],
            r["strategy"],
            r.get("periods_bought"),
            r.get("payoff_eur_per_mw"),
            r["price"],
            r.get("cost_eur_per_mw"),
            r.get("pnl_eur_per_mw"),
        ]
        for r in strategies["explicit_capacity"]
    ]
    return (
        "<h2>Trades decided before prices were known (per MW)</h2>"
        "<p>Auction prices from JAO exports where given; 'assumed' is the rule's capacity price; "
        "'none': no price known, only the payoff and the price at which the right breaks even.</p>"
        "<h3>Transmission rights held for a whole product</h3>"
        + table(
            [
                "border",
                "direction",
                "product",
                "products",
                "of which partial",
                "payoff EUR/MW",
                "price",
                "cost EUR/MW",
                "P&L EUR/MW",
                "break-even EUR/MWh",
            ],
            rights,
        )
        + "<h3>Explicit daily capacity</h3>"
        + table(
            [
                "border",
                "direction",
                "strategy",
                "periods bought",
                "payoff EUR/MW",
                "price",
                "cost EUR/MW",
                "P&L EUR/MW",
            ],
            explicit,
        )
    )
