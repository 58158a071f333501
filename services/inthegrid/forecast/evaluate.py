"""Held-out evaluation of the quantile forecasts against naive ones.

Naive forecasts, both known before gate closure: the spread of the same hour on the previous day
(``naive_day``) and on the same weekday a week earlier (``naive_week``). As point forecasts they are
scored as if all three quantiles were that value; ``naive_day_quantiles`` adds the P10/P50/P90 of
naive_day's errors on the training period, a fair probabilistic baseline.

Scores are over the test hours where the spread and both naive values exist, the same hours for all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from inthegrid.forecast.features import border_features
from inthegrid.forecast.model import QUANTILE_NAMES, QUANTILES, SpreadForecaster


def pinball_loss(actual: np.ndarray, predicted: np.ndarray, quantile: float) -> float:
    """Mean quantile (pinball) loss: under-forecasts cost ``q``, over-forecasts ``1 - q`` per EUR."""
    diff = actual - predicted
    return float(np.mean(np.maximum(quantile * diff, (quantile - 1) * diff)))


def mean_pinball(actual: np.ndarray, quantiles: pd.DataFrame) -> float:
    """Pinball loss averaged over P10, P50 and P90."""
    return float(
        np.mean([pinball_loss(actual, quantiles[QUANTILE_NAMES[q]].to_numpy(), q) for q in QUANTILES])
    )


def _constant(point: np.ndarray, offsets: dict[float, float] | None = None) -> pd.DataFrame:
    offsets = offsets or dict.fromkeys(QUANTILES, 0.0)
    return pd.DataFrame({QUANTILE_NAMES[q]: point + offsets[q] for q in QUANTILES})


def evaluate_border(
    forecaster: SpreadForecaster,
    frame: pd.DataFrame,
    border: tuple[str, str],
    test_from: str,
    test_to: str | None = None,
) -> dict[str, Any]:
    """Scores on market-time days in [test_from, test_to) (dates); the model was trained before them."""
    rows = border_features(frame, *border)
    days = rows.index.get_level_values("day")
    test_mask = days >= pd.Timestamp(test_from)
    if test_to is not None:
        test_mask &= days < pd.Timestamp(test_to)
    usable = rows["spread"].notna() & rows["spread_d1"].notna() & rows["spread_d7"].notna()
    train, test = rows[~test_mask & usable], rows[test_mask & usable]
    if test.empty:
        return {"border": f"{border[0]}/{border[1]}", "test_hours": 0}
    actual = test["spread"].to_numpy()
    errors = (train["spread"] - train["spread_d1"]).to_numpy()
    offsets = {q: float(np.quantile(errors, q)) if len(errors) else 0.0 for q in QUANTILES}
    model = forecaster.predict_rows(border, test)
    candidates = {
        "model": model,
        "naive_day": _constant(test["spread_d1"].to_numpy()),
        "naive_week": _constant(test["spread_d7"].to_numpy()),
        "naive_day_quantiles": _constant(test["spread_d1"].to_numpy(), offsets),
    }
    scores = {
        name: {
            "mae_p50": float(np.mean(np.abs(actual - q["p50"].to_numpy()))),
            "pinball": mean_pinball(actual, q),
            "coverage_p10_p90": float(
                np.mean((actual >= q["p10"].to_numpy()) & (actual <= q["p90"].to_numpy()))
            ),
        }
        for name, q in candidates.items()
    }
    best_naive_mae = min(scores[n]["mae_p50"] for n in ("naive_day", "naive_week"))
    best_naive_pinball = min(scores[n]["pinball"] for n in ("naive_day", "naive_week", "naive_day_quantiles"))
    return {
        "border": f"{border[0]}/{border[1]}",
        "test_hours": len(test),
        "mean_abs_spread": float(np.mean(np.abs(actual))),
        "scores": scores,
        "beats_naive_mae": scores["model"]["mae_p50"] < best_naive_mae,
        "beats_naive_pinball": scores["model"]["pinball"] < best_naive_pinball,
    }
