"""Quantile models of a border's spread per hour (scikit-learn HistGradientBoostingRegressor, quantile
loss), trained on the feature rows of ``features``; a model file holds every border's regressors.

scikit-learn is the optional extra ``forecast``; importing this module without it raises a clear
ConfigError instead of an ImportError deep in a request.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inthegrid.errors import ConfigError, ValidationError
from inthegrid.forecast.features import FEATURES, border_features, features_for_day

QUANTILES = (0.1, 0.5, 0.9)
QUANTILE_NAMES = {0.1: "p10", 0.5: "p50", 0.9: "p90"}
MIN_TRAINING_ROWS = 24 * 90  # a season of hours; fewer gives a model not worth serving
FORMAT_VERSION = 1


def _regressor(quantile: float, seed: int) -> Any:
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
    except ImportError:
        raise ConfigError("spread forecasts need scikit-learn: pip install 'inthegrid[forecast]'") from None
    return HistGradientBoostingRegressor(
        loss="quantile",
        quantile=quantile,
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        random_state=seed,
    )


def _one_thread() -> Any:
    """OpenMP on a busy machine spins its threads against each other (a fit took 70x longer under load);
    one thread per fit is fast enough for these few thousand rows and leaves the cores to the services."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


@dataclass
class SpreadForecaster:
    """Per border (a, b) and quantile, a fitted regressor of ``price_b - price_a``."""

    models: dict[tuple[str, str], dict[float, Any]] = field(default_factory=dict)
    trained_until: str = ""
    training_rows: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def borders(self) -> list[tuple[str, str]]:
        return sorted(self.models)

    def fit(
        self, frame: pd.DataFrame, borders: Iterable[tuple[str, str]], *, seed: int = 0
    ) -> SpreadForecaster:
        """Fit every border that has MIN_TRAINING_ROWS hours with a known spread; skip the others."""
        for a, b in borders:
            if a not in frame.columns or b not in frame.columns:
                continue
            rows = border_features(frame, a, b).dropna(subset=["spread"])
            if len(rows) < MIN_TRAINING_ROWS:
                continue
            x, y = rows[list(FEATURES)].to_numpy(), rows["spread"].to_numpy()
            with _one_thread():
                self.models[(a, b)] = {q: _regressor(q, seed).fit(x, y) for q in QUANTILES}
            self.training_rows[(a, b)] = len(rows)
        if len(frame.index):
            self.trained_until = frame.index.max().isoformat()
        return self

    def predict_rows(self, border: tuple[str, str], rows: pd.DataFrame) -> pd.DataFrame:
        """P10/P50/P90 for feature rows; quantiles sorted per row so P10 <= P50 <= P90 always holds."""
        models = self._models(border)
        x = rows[list(FEATURES)].to_numpy()
        with _one_thread():
            values = np.sort(np.column_stack([models[q].predict(x) for q in QUANTILES]), axis=1)
        return pd.DataFrame(values, index=rows.index, columns=[QUANTILE_NAMES[q] for q in QUANTILES])

    def predict_day(self, frame: pd.DataFrame, border: tuple[str, str], day: date) -> pd.DataFrame:
        """The 24 hours (market time) of delivery day ``day``, from prices before ``day`` only."""
        self._models(border)  # an unknown border is a clear error, before any work
        return self.predict_rows(border, features_for_day(frame, *border, day))

    def _models(self, border: tuple[str, str]) -> dict[float, Any]:
        try:
            return self.models[border]
        except KeyError:
            have = ", ".join(f"{a}/{b}" for a, b in self.borders) or "none"
            raise ValidationError(
                f"no forecast model for {border[0]}/{border[1]} (the model has: {have})"
            ) from None


def save_forecaster(forecaster: SpreadForecaster, path: str | Path) -> Path:
    import sklearn

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT_VERSION, "sklearn": sklearn.__version__, "forecaster": forecaster}
    path.write_bytes(pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def load_forecaster(path: str | Path) -> SpreadForecaster:
    """Load a model file written by ``save_forecaster``.

    A model file is code (pickle): load only files you wrote yourself (``inthegrid forecast train``),
    never one received from elsewhere.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"forecast model {path} does not exist (write one with: inthegrid forecast train)")
    _regressor(0.5, 0)  # a clear error when scikit-learn is missing
    try:
        document = pickle.loads(path.read_bytes())  # noqa: S301 - our own model file, see above
    except Exception as exc:  # a truncated or foreign file raises many kinds of errors
        raise ConfigError(f"forecast model {path} cannot be read: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
        raise ConfigError(f"forecast model {path} is not an InTheGrid model file (format {FORMAT_VERSION})")
    forecaster = document["forecaster"]
    if not isinstance(forecaster, SpreadForecaster):
        raise ConfigError(f"forecast model {path} holds no SpreadForecaster")
    return forecaster
