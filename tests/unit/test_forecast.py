"""Spread forecasts: no leakage from the delivery day, quantiles in order, naive scores by hand, the
model file, the signal's orientation and the command's errors."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inthegrid.cli import main
from inthegrid.errors import ConfigError, ValidationError
from inthegrid.forecast.evaluate import evaluate_border, pinball_loss
from inthegrid.forecast.features import FEATURES, border_features, day_by_hour, features_for_day
from inthegrid.forecast.model import SpreadForecaster, load_forecaster, save_forecaster
from inthegrid.forecast.signal import SpreadSignal, forecast_periods

pytest.importorskip("sklearn")

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
DAYS = 130
TARGET = date(2023, 5, 1)  # a delivery day late in the synthetic table


def synthetic(seed: int = 1) -> pd.DataFrame:
    """DE-LU and FR hourly from 2023-01-01 (Brussels): FR dearer in the evening, equal at night; the
    evening spread persists in part from one day to the next."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2022-12-31T23:00Z", periods=24 * DAYS, freq="h", tz="UTC")
    hour = index.tz_convert("Europe/Brussels").hour.to_numpy()
    level = np.repeat(np.cumsum(rng.normal(0, 3, DAYS)) + 80, 24)
    shocks = rng.normal(0, 6, DAYS)
    persistent = np.zeros(DAYS)
    for day in range(1, DAYS):  # AR(1): half of yesterday's deviation carries over to today
        persistent[day] = 0.5 * persistent[day - 1] + shocks[day]
    daily = np.repeat(persistent, 24)
    spread = np.where(hour >= 17, 12.0 + daily, 0.0) + rng.normal(0, 1, len(index)) * (hour >= 17)
    return pd.DataFrame({"DE-LU": level.round(2), "FR": (level + spread).round(2)}, index=index)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def forecaster(prices) -> SpreadForecaster:
    known = prices[prices.index < pd.Timestamp("2023-04-11", tz="Europe/Brussels")]
    return SpreadForecaster().fit(known, [("DE-LU", "FR")])


def _perturb_from(frame: pd.DataFrame, day: date, seed: int = 7) -> pd.DataFrame:
    """Every price from the start of ``day`` (market time) on replaced by noise."""
    out = frame.copy()
    later = out.index >= pd.Timestamp(day).tz_localize("Europe/Brussels")
    out.loc[later] = np.random.default_rng(seed).uniform(-500, 4000, size=(int(later.sum()), out.shape[1]))
    return out


def test_features_of_day_d_never_read_day_d_or_later(prices):
    before = border_features(prices, "DE-LU", "FR").xs(pd.Timestamp(TARGET), level="day")
    after = border_features(_perturb_from(prices, TARGET), "DE-LU", "FR").xs(
        pd.Timestamp(TARGET), level="day"
    )
    pd.testing.assert_frame_equal(before[list(FEATURES)], after[list(FEATURES)])
    assert not before["spread"].equals(after["spread"])  # the target did change


def test_forecast_of_day_d_is_unchanged_when_day_d_prices_change(prices, forecaster):
    perturbed = _perturb_from(prices, TARGET)
    expected = forecaster.predict_day(prices, ("DE-LU", "FR"), TARGET)
    pd.testing.assert_frame_equal(expected, forecaster.predict_day(perturbed, ("DE-LU", "FR"), TARGET))
    # The vectorised path (backtests) agrees, also on a table that holds day D's outcome.
    day_periods = pd.date_range(pd.Timestamp(TARGET).tz_localize("Europe/Brussels"), periods=24, freq="h")
    vectorised = forecast_periods(forecaster, perturbed, "DE-LU", "FR", day_periods.tz_convert("UTC"))
    np.testing.assert_allclose(vectorised.to_numpy(), expected.to_numpy())


def test_the_forecast_does_use_the_day_before(prices, forecaster):
    """The leakage test could pass with a forecast that ignores prices; this one shows it does not."""
    previous = date.fromordinal(TARGET.toordinal() - 1)
    expected = forecaster.predict_day(prices, ("DE-LU", "FR"), TARGET)
    moved = forecaster.predict_day(_perturb_from(prices, previous), ("DE-LU", "FR"), TARGET)
    assert not np.allclose(expected.to_numpy(), moved.to_numpy())


def test_features_for_day_cut_the_outcome_off(prices):
    rows = features_for_day(prices, "DE-LU", "FR", TARGET)
    assert list(rows.index) == list(range(24))
    d1 = day_by_hour(prices["FR"] - prices["DE-LU"]).loc[pd.Timestamp("2023-04-30")]
    np.testing.assert_allclose(rows["spread_d1"].to_numpy(), d1.to_numpy())


def test_quantiles_are_ordered_and_learn_the_evening_spread(prices, forecaster):
    day = forecaster.predict_day(prices, ("DE-LU", "FR"), TARGET)
    assert (day["p10"] <= day["p50"]).all() and (day["p50"] <= day["p90"]).all()
    assert day.loc[3, "p50"] == pytest.approx(0.0, abs=1.0)  # night: converged
    assert day.loc[19, "p50"] > 5.0  # evening: FR dearer


def test_signal_is_oriented_by_the_caller(prices, forecaster):
    signal = SpreadSignal(forecaster, prices)
    fr_minus_de = signal.day("DE", "FR", TARGET)
    de_minus_fr = signal.day("FR", "DE-LU", TARGET)
    np.testing.assert_allclose(de_minus_fr["p50"], -fr_minus_de["p50"])
    np.testing.assert_allclose(de_minus_fr["p10"], -fr_minus_de["p90"])
    start = datetime.fromisoformat("2023-05-01T17:00:00+00:00")  # 19:00 in Brussels
    assert signal.expected_spread("DE-LU", "FR", start) == pytest.approx(fr_minus_de.loc[19, "p50"])
    with pytest.raises(ValidationError, match="no forecast model for"):
        signal.day("NL", "BE", TARGET)


def test_pinball_loss_by_hand():
    actual = np.array([10.0, 0.0])
    predicted = np.array([0.0, 10.0])
    # under by 10 costs 0.9 * 10, over by 10 costs 0.1 * 10
    assert pinball_loss(actual, predicted, 0.9) == pytest.approx((9 + 1) / 2)
    assert pinball_loss(actual, predicted, 0.5) == pytest.approx(5.0)


def test_evaluation_scores_naive_forecasts_by_hand(prices, forecaster):
    result = evaluate_border(forecaster, prices, ("DE-LU", "FR"), "2023-04-11")
    rows = border_features(prices, "DE-LU", "FR")
    test = rows[rows.index.get_level_values("day") >= pd.Timestamp("2023-04-11")].dropna(
        subset=["spread", "spread_d1", "spread_d7"]
    )
    assert result["test_hours"] == len(test)
    naive = (test["spread"] - test["spread_d1"]).abs().mean()
    assert result["scores"]["naive_day"]["mae_p50"] == pytest.approx(naive)
    assert result["scores"]["naive_day"]["pinball"] == pytest.approx(naive / 2)  # mean of q, 1-q is 1/2
    # Hour-dependent quantiles (zero at night) beat yesterday's value with one set of error quantiles.
    scores = result["scores"]
    assert (
        scores["model"]["pinball"] < scores["naive_day_quantiles"]["pinball"] < scores["naive_day"]["pinball"]
    )


def test_model_file_round_trip_and_bad_files(tmp_path, prices, forecaster):
    path = save_forecaster(forecaster, tmp_path / "m.pkl")
    loaded = load_forecaster(path)
    pd.testing.assert_frame_equal(
        loaded.predict_day(prices, ("DE-LU", "FR"), TARGET),
        forecaster.predict_day(prices, ("DE-LU", "FR"), TARGET),
    )
    (tmp_path / "junk.pkl").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_forecaster(tmp_path / "junk.pkl")
    with pytest.raises(ConfigError, match="does not exist"):
        load_forecaster(tmp_path / "missing.pkl")


def test_too_little_history_trains_nothing(prices):
    assert SpreadForecaster().fit(prices.iloc[: 24 * 30], [("DE-LU", "FR")]).models == {}


def test_cli_train_predict_evaluate(tmp_path, prices, capsys):
    table = tmp_path / "prices.csv"
    out = prices.copy()
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.index.name = "timestamp_utc"
    out.to_csv(table)
    model = tmp_path / "model.pkl"
    assert (
        main(["forecast", "train", "--prices", str(table), "--until", "2023-04-10", "--out", str(model)]) == 0
    )
    assert "DE-LU/FR" in capsys.readouterr().out
    assert (
        main(["forecast", "predict", "--prices", str(table), "--model", str(model), "--day", "2023-05-01"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "p10" in printed and "FR - DE-LU" in printed
    assert (
        main(["forecast", "evaluate", "--prices", str(table), "--model", str(model), "--from", "2023-04-11"])
        == 0
    )
    assert "| DE-LU/FR |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "--model", "{missing}", "--day", "2023-05-01"], "does not exist"),
        (["predict", "--model", "{model}", "--day", "May 1st"], "is not YYYY-MM-DD"),
        (
            ["predict", "--model", "{model}", "--day", "2023-05-01", "--border", "DE/XX"],
            "unknown bidding zone",
        ),
        (["train", "--until", "2023-01-10", "--out", "{model}"], "enough hours"),
    ],
)
def test_cli_errors_are_clear(tmp_path, prices, forecaster, capsys, argv, message):
    table = tmp_path / "prices.csv"
    out = prices.copy()
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.index.name = "timestamp_utc"
    out.to_csv(table)
    model = save_forecaster(forecaster, tmp_path / "model.pkl")
    filled = [a.replace("{missing}", str(tmp_path / "no.pkl")).replace("{model}", str(model)) for a in argv]
    assert main(["forecast", filled[0], "--prices", str(table), *filled[1:]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_real_table_features_do_not_leak():
    """On the real table too: replacing 2024-05-01's prices leaves that day's features alone."""
    from inthegrid.sources.table import read_table

    frame = read_table(SAMPLE).between("2024-04-01", "2024-05-10").frame[["DE-LU", "FR"]]
    day = date(2024, 5, 1)
    before = features_for_day(frame, "DE-LU", "FR", day)
    after = features_for_day(_perturb_from(frame, day), "DE-LU", "FR", day)
    pd.testing.assert_frame_equal(before, after)
    assert before["spread_d1"].notna().all()


def test_capacity_pnl_by_hand():
    from inthegrid.forecast.signal import capacity_pnl

    spread = pd.Series([20.0, -5.0, 3.0, np.nan])
    buy = pd.Series([True, True, False, True])
    result = capacity_pnl(spread, buy, cost_eur_mwh=10.0)
    # bought hours 0 and 1 (hour 3 has no price): income 20 + 0, cost 2 x 10
    assert result == {"hours_bought": 2.0, "income_eur": 20.0, "cost_eur": 20.0, "pnl_eur": 0.0}


def test_quarter_hours_become_the_hourly_index_only_when_complete():
    from inthegrid.gateway.rest.routers.forecast import hourly_index

    index = pd.date_range("2024-05-01T00:00Z", periods=7, freq="15min")
    quarters = pd.DataFrame({"FR": [1.0, 2.0, 3.0, 6.0, 10.0, 10.0, 10.0]}, index=index)
    hourly = hourly_index(quarters)
    assert hourly["FR"].iloc[0] == 3.0 and np.isnan(hourly["FR"].iloc[1])


def test_expected_payout_sees_the_tail_the_median_misses():
    from inthegrid.forecast.signal import expected_payout

    quantiles = pd.DataFrame({"p10": [-5.0, 1.0], "p50": [0.0, 2.0], "p90": [40.0, 3.0]})
    assert expected_payout(quantiles).tolist() == pytest.approx([12.0, 0.3 + 0.8 + 0.9])
