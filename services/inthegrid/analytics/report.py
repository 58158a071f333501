"""All analyses of one price frame at once: a JSON-ready document and flat tables for CSV.

Used by ``inthegrid analyze`` (price tables), the gateway (stored history) and the backtest report,
so the three always show the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from inthegrid.analytics.congestion import congestion_value
from inthegrid.analytics.correlation import correlation_by_year, correlation_matrix
from inthegrid.analytics.divergence import divergence, heatmap
from inthegrid.analytics.frames import border_for, borders_in
from inthegrid.analytics.negative import negative_hours
from inthegrid.analytics.terms import CONGESTION_NOTE, CONVERGED_EUR_MWH, MARKET_TZ
from inthegrid.domain.zones import pair_key
from inthegrid.errors import ValidationError


def clean(value: Any, digits: int = 4) -> Any:
    """JSON-safe scalars: NaN -> None, numpy -> Python, floats rounded."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    return value


def records(frame: pd.DataFrame, digits: int = 4) -> list[dict[str, Any]]:
    return [{k: clean(v, digits) for k, v in row.items()} for row in frame.to_dict("records")]


def default_pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The real borders among the frame's zones (domain.grid); analysing FR/AT would mislead."""
    return [b.key for b in borders_in(frame.columns)]


def pair_document(frame: pd.DataFrame, pair: tuple[str, str]) -> dict[str, Any]:
    a, b = pair
    summary = divergence(frame, a, b, "all")
    grids = {value: heatmap(frame, a, b, value) for value in ("converged_share", "mean_spread_eur_mwh")}
    return {
        "pair": [a, b],
        "spread": f"{b} - {a}",
        "border": border_for(a, b) is not None,
        "summary": records(summary)[0] if len(summary) else None,
        "by_year": records(divergence(frame, a, b, "year").reset_index()),
        "by_hour": records(divergence(frame, a, b, "hour").reset_index()),
        "heatmap": {
            "months": list(range(1, 13)),
            "hours": list(range(24)),
            **{name: [[clean(v) for v in row] for row in grid.to_numpy()] for name, grid in grids.items()},
        },
    }


def analyze_frame(
    frame: pd.DataFrame, period_hours: float, pairs: Sequence[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """Divergence per pair, congestion value per border, negative hours, correlations."""
    if frame.empty:
        raise ValidationError("no prices in the selected range")
    chosen = [pair_key(*p) for p in pairs] if pairs else default_pairs(frame)
    borders = [x for x in (border_for(a, b) for a, b in chosen) if x is not None]
    matrix = correlation_matrix(frame)
    negative = negative_hours(frame, period_hours)
    return {
        "range": {
            "from": frame.index[0].isoformat().replace("+00:00", "Z"),
            "to": frame.index[-1].isoformat().replace("+00:00", "Z"),
            "periods": len(frame),
            "period_hours": period_hours,
        },
        "market_time_zone": MARKET_TZ,
        "converged_below_eur_mwh": CONVERGED_EUR_MWH,
        "pairs": [pair_document(frame, p) for p in chosen],
        "congestion": {
            "note": CONGESTION_NOTE,
            "total": records(congestion_value(frame, borders, period_hours), 2),
            "by_year": records(congestion_value(frame, borders, period_hours, by_year=True), 2),
        },
        "negative_hours": [
            {"zone": zone, "year": int(year), "hours": clean(hours)}
            for year, row in negative.iterrows()
            for zone, hours in row.items()
        ],
        "correlation": {
            "zones": list(matrix.columns),
            "matrix": [[clean(v) for v in row] for row in matrix.to_numpy()],
            "by_year": records(correlation_by_year(frame)),
        },
    }


def analysis_tables(document: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Flat tables of an ``analyze_frame`` document, one per CSV file."""
    divergence_rows, heatmap_rows = [], []
    for item in document["pairs"]:
        label = "/".join(item["pair"])
        for row in item["by_year"]:
            divergence_rows.append({"pair": label, **row})
        grid = item["heatmap"]
        for i, month in enumerate(grid["months"]):
            for j, hour in enumerate(grid["hours"]):
                heatmap_rows.append(
                    {
                        "pair": label,
                        "month": month,
                        "hour": hour,
                        "converged_share": grid["converged_share"][i][j],
                        "mean_spread_eur_mwh": grid["mean_spread_eur_mwh"][i][j],
                    }
                )
    return {
        "divergence": pd.DataFrame(divergence_rows),
        "heatmap": pd.DataFrame(heatmap_rows),
        "congestion": pd.DataFrame(document["congestion"]["by_year"]),
        "negative_hours": pd.DataFrame(document["negative_hours"], columns=["zone", "year", "hours"]),
        "correlation": pd.DataFrame(document["correlation"]["by_year"]),
    }
