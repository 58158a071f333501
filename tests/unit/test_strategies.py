"""No-hindsight strategies on small hand-computed cases, and the real JAO export's format."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inthegrid.backtest.engine import run_backtest
from inthegrid.backtest.strategies import MARKET_TZ, _product_hours, product_codes, strategies_summary
from inthegrid.domain.rights import buy_on_signal, hold_pnl, previous_days_mean, right_payoff
from inthegrid.domain.rules import compile_rule, parse_rule_spec
from inthegrid.errors import ValidationError
from inthegrid.sources.jao import AuctionPrices, AuctionResult, parse_jao_auctions, read_jao_auctions
from inthegrid.sources.table import frame_to_table

JAO = Path(__file__).parents[1] / "fixtures" / "jao" / "jao_DE-CH_auctions_2019-01_raw_api_export.csv"


def test_the_real_jao_export_parses_to_its_known_facts():
    results = read_jao_auctions(JAO)
    daily = [r for r in results if r.horizon == "Daily"]
    (monthly,) = [r for r in results if r.horizon == "Monthly"]
    assert len(daily) == 744 and {(r.source, r.target) for r in results} == {("DE-LU", "CH")}
    assert round(sum(r.price_eur_mwh for r in daily) / len(daily), 2) == 10.33
    top = max(daily, key=lambda r: r.price_eur_mwh)
    assert (top.price_eur_mwh, top.product, top.delivery_start.isoformat()) == (
        53.26,
        "B01",
        "2019-01-01T23:00:00+00:00",
    )
    assert (monthly.price_eur_mwh, monthly.offered_mw, monthly.product) == (10.41, 252.0, "BASE")
    assert monthly.delivery_start.isoformat() == "2019-01-31T23:00:00+00:00"


def test_a_file_that_is_not_a_jao_export_is_refused_by_name():
    with pytest.raises(ValidationError, match="missing columns"):
        parse_jao_auctions("timestamp,price\n")


def test_right_and_capacity_pnl_by_hand():
    payoff = right_payoff(np.array([50.0, 60.0, 40.0]), np.array([60.0, 50.0, 45.0]))
    assert list(payoff) == [10.0, 0.0, 5.0]  # a right never pays negative
    pnl = hold_pnl(payoff, np.array([4.0, 4.0, 4.0]), 1.0)
    assert (pnl.payoff_eur, pnl.cost_eur, pnl.pnl_eur) == (15.0, 12.0, 3.0)
    chosen, bought = buy_on_signal(payoff, np.full(3, 4.0), np.array([9.0, 1.0, np.nan]), 1.0)
    assert list(bought) == [True, False, False] and chosen.pnl_eur == 6.0


def test_the_signal_uses_only_earlier_days():
    history = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    assert list(previous_days_mean(2)(history)) == [4.0, 6.0]
    assert np.isnan(previous_days_mean(2)(history[:0])).all()


def _ch_table() -> pd.DataFrame:
    # Three days, two hours each; CH dearer than DE-LU by 20 in hour 0, by 2 in hour 1.
    stamps = [f"2023-03-0{d}T0{h}:00Z" for d in (1, 2, 3) for h in (0, 1)]
    return pd.DataFrame({"timestamp_utc": stamps, "DE_LU": [50.0] * 6, "CH": [70.0, 52.0] * 3})


def test_explicit_daily_capacity_every_hour_and_on_signal_at_an_assumed_price():
    spec = {
        "pairs": [["DE-LU", "CH"]],
        "costModel": {"type": "border", "borders": [{"zones": ["DE-LU", "CH"], "capacityPriceEurPerMWh": 5}]},
    }
    result = run_backtest(frame_to_table(_ch_table(), "PT60M"), compile_rule("ch", parse_rule_spec(spec)))
    out = strategies_summary(result, signal=previous_days_mean(7))
    rows = {(r["direction"], r["strategy"]): r for r in out["explicit_capacity"]}
    every = rows[("DE-LU->CH", "every_period")]
    # Payoff 3 x (20 + 2) = 66, cost 6 hours x 5 = 30.
    assert (every["payoff_eur_per_mw"], every["cost_eur_per_mw"], every["pnl_eur_per_mw"]) == (
        66.0,
        30.0,
        36.0,
    )
    assert every["price"] == "assumed" and every["assumed_periods"] == 6
    signal = rows[("DE-LU->CH", "on_signal")]
    # Day 1: no history, nothing bought. Days 2 and 3: hour 0 expected 20 > 5 (bought), hour 1: 2 < 5.
    assert signal["periods_bought"] == 2 and signal["pnl_eur_per_mw"] == 2 * (20.0 - 5.0)
    back = rows[("CH->DE-LU", "every_period")]
    assert back["payoff_eur_per_mw"] == 0.0 and back["pnl_eur_per_mw"] == -30.0


def test_rights_per_product_with_auction_prices_where_known():
    spec = {"pairs": [["DE-LU", "CH"]], "costModel": {"type": "border"}}
    result = run_backtest(frame_to_table(_ch_table(), "PT60M"), compile_rule("ch", parse_rule_spec(spec)))
    t0 = pd.Timestamp("2023-02-28T23:00Z").to_pydatetime()
    t1 = pd.Timestamp("2023-03-31T22:00Z").to_pydatetime()
    monthly = AuctionResult("DE-LU", "CH", "Monthly", "m", "BASE", t0, t1, 100.0, 100.0, 8.0)
    out = strategies_summary(result, AuctionPrices((monthly,)))
    rights = {(r["direction"], r["product"]): r for r in out["transmission_rights"]}
    month = rights[("DE-LU->CH", "month")]
    assert month["price"] == "jao" and month["products"] == 1
    assert (month["payoff_eur_per_mw"], month["cost_eur_per_mw"], month["pnl_eur_per_mw"]) == (
        66.0,
        48.0,
        18.0,
    )
    assert month["break_even_price_eur_mwh"] == 11.0
    day = rights[("DE-LU->CH", "day")]  # no daily auction data: the grid's CH price (10.33), assumed
    assert day["price"] == "assumed" and day["products"] == 3 and day["winning_products"] == 3
    assert day["pnl_eur_per_mw"] == pytest.approx(66.0 - 6 * 10.33)
    # Two hours of each day are in the table: every product is only partly covered, and says so.
    assert (day["partial_products"], month["partial_products"]) == (3, 1)


def test_a_coupled_border_without_a_price_reports_payoff_and_break_even_only():
    frame = pd.DataFrame(
        {
            "timestamp_utc": ["2023-03-01T00:00Z", "2023-03-01T01:00Z"],
            "DE_LU": [50.0, 60.0],
            "FR": [70.0, 60.0],
        }
    )
    spec = {"pairs": [["DE-LU", "FR"]], "costModel": {"type": "border"}}
    result = run_backtest(frame_to_table(frame, "PT60M"), compile_rule("fr", parse_rule_spec(spec)))
    out = strategies_summary(result)
    year = next(
        r for r in out["transmission_rights"] if r["direction"] == "DE-LU->FR" and r["product"] == "year"
    )
    assert year["price"] == "none" and year["pnl_eur_per_mw"] is None
    assert year["payoff_eur_per_mw"] == 20.0 and year["break_even_price_eur_mwh"] == 10.0
    assert out["explicit_capacity"] == []  # coupled: no explicit capacity to buy


def test_explicit_capacity_on_a_forecast_buys_where_the_forecast_expects_the_price_beaten():
    spec = {
        "pairs": [["DE-LU", "CH"]],
        "costModel": {"type": "border", "borders": [{"zones": ["DE-LU", "CH"], "capacityPriceEurPerMWh": 5}]},
    }
    result = run_backtest(frame_to_table(_ch_table(), "PT60M"), compile_rule("ch", parse_rule_spec(spec)))
    asked: list[tuple[str, str, int]] = []

    def forecast(a: str, b: str, index: pd.DatetimeIndex) -> np.ndarray:
        # Expected payoff, known before each auction: 30 for DE-LU -> CH at 00:00 UTC, 1 otherwise.
        asked.append((a, b, len(index)))
        return np.where((index.hour == 0) & (a == "DE-LU"), 30.0, 1.0)

    out = strategies_summary(result, signal=previous_days_mean(7), forecast=forecast)
    rows = {(r["direction"], r["strategy"]): r for r in out["explicit_capacity"]}
    assert sorted(asked) == [("CH", "DE-LU", 6), ("DE-LU", "CH", 6)]
    # Hour 0 of all three days bought at 5 (payoff 20 each): 3 x 15 = 45. Unlike the recent-days
    # signal, the forecast needs no history, so day 1 is bought too.
    assert rows[("DE-LU->CH", "on_forecast")]["periods_bought"] == 3
    assert rows[("DE-LU->CH", "on_forecast")]["pnl_eur_per_mw"] == 3 * (20.0 - 5.0)
    assert rows[("CH->DE-LU", "on_forecast")]["periods_bought"] == 0
    assert rows[("DE-LU->CH", "on_signal")]["pnl_eur_per_mw"] == 2 * (20.0 - 5.0)  # unchanged
    assert ("DE-LU->CH", "on_forecast") not in {
        (r["direction"], r["strategy"]) for r in strategies_summary(result)["explicit_capacity"]
    }  # without a forecast, no such row


def test_products_are_market_time_years_months_and_days_with_their_dst_lengths():
    # 2024-03-30T23:00Z is midnight of 31 March in Brussels: the first hour of that (23-hour) day.
    utc = pd.DatetimeIndex(
        ["2024-03-30T22:00Z", "2024-03-30T23:00Z", "2024-10-26T22:00Z", "2024-12-31T23:00Z"]
    )
    codes = product_codes(utc.tz_convert(MARKET_TZ))
    days = pd.to_datetime(codes["day"], unit="D").strftime("%Y-%m-%d").tolist()
    assert days == ["2024-03-30", "2024-03-31", "2024-10-27", "2025-01-01"]
    assert codes["month"].tolist() == [2024 * 12 + 2, 2024 * 12 + 2, 2024 * 12 + 9, 2025 * 12]
    assert codes["year"].tolist() == [2024, 2024, 2024, 2025]
    assert _product_hours(codes["day"], "day").tolist() == [24, 23, 25, 24]
    assert _product_hours(codes["month"], "month").tolist() == [743, 743, 745, 744]
    assert _product_hours(codes["year"], "year").tolist() == [8784, 8784, 8784, 8760]
