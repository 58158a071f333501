"""The backtest: exact numbers on small tables, agreement with the scalar domain code, the sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inthegrid.backtest.engine import opportunities_frame, run_backtest
from inthegrid.backtest.manifest import load_rule
from inthegrid.backtest.summary import build_summary
from inthegrid.cli import main
from inthegrid.domain.economics import is_opportunity, value_pair
from inthegrid.sources.table import frame_to_table, read_table

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
RULES = ROOT / "tests" / "fixtures" / "rules"
PAIR_KEYS = {
    "zones",
    "hours",
    "opportunity_hours",
    "mean_net_spread",
    "max_net_spread",
    "value_eur_per_mw",
    "equal_price_share",
}


@pytest.fixture(scope="module")
def sample():
    return read_table(SAMPLE)


def small_table(rows: list[tuple[str, float, float]]):
    frame = pd.DataFrame(rows, columns=["timestamp_utc", "DE_LU", "FR"])
    return frame_to_table(frame, "PT60M")


def test_exact_summary_on_a_hand_made_table() -> None:
    # de-fr-threshold: cost 1.00 EUR/MWh for DE-LU/FR, 100 MW, min profit 500 EUR per period.
    table = small_table(
        [
            ("2024-01-01T00:00Z", 50.0, 60.0),  # net 9.00, profit 900: opportunity
            ("2024-01-01T01:00Z", 50.0, 54.0),  # net 3.00, profit 300: below min profit
            ("2024-01-01T02:00Z", np.nan, 500.0),  # gap: never an opportunity
            ("2024-01-01T03:00Z", 40.0, 40.0),  # coupled
            ("2024-01-01T04:00Z", 80.0, 60.0),  # net 19.00 buying FR
        ]
    )
    result = run_backtest(table, load_rule(RULES / "de-fr-threshold.yaml"))
    (pair,) = build_summary(result)["pairs"]
    assert pair == {
        "zones": ["DE-LU", "FR"],
        "hours": 4,
        "opportunity_hours": 2,
        "mean_net_spread": 14.0,
        "max_net_spread": 19.0,
        "value_eur_per_mw": 28.0,
        "equal_price_share": 0.25,
        "direction_periods": {"DE-LU->FR": 1, "FR->DE-LU": 1},
        # DE-LU/FR is a coupled Core border: the spreads (10 + 20) are congestion income, not profit.
        "capture_periods": {"congestion_income": 2},
        "weakest_hops": ["DE-LU>FR", "FR>DE-LU"],
        "flow_based_approximation_periods": 2,
        "ex_post_profit_eur_per_mw": 0.0,
        "ex_post_congestion_value_eur_per_mw": 30.0,
    }
    opps = opportunities_frame(result)
    assert list(opps["buy_zone"]) == ["DE-LU", "FR"]
    assert list(opps["value_eur"]) == [900.0, 1900.0]
    assert opps["profit_eur"].isna().all()
    assert list(opps["congestion_value_eur"]) == [1000.0, 2000.0]  # spread x 100 MW x 1 h
    assert list(opps["capture"]) == ["congestion_income"] * 2
    assert list(opps["hops"]) == ["DE-LU>FR:coupled", "FR>DE-LU:coupled"]


def test_border_summary_counts_each_border_once_with_direction() -> None:
    table = small_table(
        [
            ("2024-01-01T00:00Z", 50.0, 60.0),  # FR dearer by 10: DE-LU->FR congestion
            ("2024-01-01T01:00Z", 40.0, 40.0),  # converged
            ("2024-01-01T02:00Z", 80.0, 60.0),  # DE-LU dearer by 20: FR->DE-LU
        ]
    )
    result = run_backtest(table, load_rule(RULES / "de-fr-threshold.yaml"))
    summary = build_summary(result)
    (border,) = summary["borders"]
    # The flat rule has no border figures: the real border's capacity (5,400 MW) values the congestion.
    assert border["border"] == "DE-LU/FR" and border["capacity_mw"] == 5400
    assert border["allocation_periods"] == {"coupled": 3}
    assert border["congested_periods"] == 2 and border["flow_based_periods"] == 3
    assert border["congestion_value_by_direction_eur"] == {"DE-LU->FR": 54000.0, "FR->DE-LU": 108000.0}
    assert summary["totals"]["congestion_value_eur"] == 162000.0


def test_quarter_hour_value_uses_the_period_length() -> None:
    frame = pd.DataFrame(
        {
            "timestamp_utc": ["2025-10-01T00:00Z", "2025-10-01T00:15Z"],
            "DE_LU": [50.0, 50.0],
            "FR": [70.0, 70.0],
        }
    )
    result = run_backtest(frame_to_table(frame), load_rule(RULES / "proof-of-concept.yaml"))
    pair = next(p for p in build_summary(result)["pairs"] if p["zones"] == ["DE-LU", "FR"])
    assert pair["opportunity_hours"] == 2 and pair["value_eur_per_mw"] == round(2 * 17.5 * 0.25, 2)


@pytest.mark.parametrize(
    "rule_file", ["all-sample-zones.yaml", "explicit-borders.yaml", "de-fr-threshold.yaml"]
)
def test_vectorised_backtest_equals_the_live_calculators_scalar_code(sample, rule_file: str) -> None:
    rule = load_rule(RULES / rule_file)
    table = sample.between("2022-03-28", "2022-04-10")  # includes the 2022-04-04 French spike
    result = run_backtest(table, rule)
    for ev in result.pairs:
        if ev.missing_zones:
            continue
        for i, row in enumerate(ev.rows):
            value = value_pair(ev.model, float(ev.price_a[i]), float(ev.price_b[i]), table.period_hours)
            assert bool(ev.opportunity[i]) == is_opportunity(rule, value), (ev.pair, row)
            if ev.opportunity[i]:
                assert value is not None and ev.values.net_eur_mwh[i] == value.net_eur_mwh


def test_gaps_never_create_phantom_opportunities(sample) -> None:
    rule = load_rule(RULES / "all-sample-zones.yaml")
    table = sample.between("2023-07-01", "2023-07-07")
    holed = table.frame.copy()
    rng = np.random.default_rng(7)
    holed = holed.mask(rng.random(holed.shape) < 0.3)
    full = opportunities_frame(run_backtest(table, rule))
    gappy = opportunities_frame(run_backtest(type(table)(holed, table.period), rule))
    key = ["delivery_start", "pair"]
    merged = gappy.merge(full, on=key, how="left", suffixes=("", "_full"), indicator=True)
    assert (merged["_merge"] == "both").all()  # every opportunity with gaps exists without them
    assert (merged["net_eur_mwh"] == merged["net_eur_mwh_full"]).all()
    assert len(gappy) < len(full)
    for _, opp in gappy.iterrows():
        assert not np.isnan(holed.loc[opp["delivery_start"], opp["buy_zone"]])
        assert not np.isnan(holed.loc[opp["delivery_start"], opp["sell_zone"]])


def test_missing_zones_are_reported_not_guessed(sample) -> None:
    result = run_backtest(
        sample.between("2022-01-01", "2022-01-31"), load_rule(RULES / "explicit-borders.yaml")
    )
    summary = build_summary(result)
    assert summary["missing_zones"] == ["PL"]
    pl = next(p for p in summary["pairs"] if "PL" in p["zones"])
    assert pl["hours"] == 0 and pl["opportunity_hours"] == 0 and pl["missing_zones"] == ["PL"]
    assert pl["mean_net_spread"] is None and pl["value_eur_per_mw"] == 0


def test_sample_facts_through_the_backtest(sample) -> None:
    result = run_backtest(sample, load_rule(RULES / "de-fr-threshold.yaml"))
    (pair,) = build_summary(result)["pairs"]
    assert pair["max_net_spread"] == 2885.62  # FR - DE-LU 2,886.62 at 2022-04-04T06:00Z, minus 1.00
    assert pair["hours"] == int(sample.frame[["DE-LU", "FR"]].notna().all(axis=1).sum())
    y2022 = build_summary(
        run_backtest(sample.between("2022-01-01", "2022-12-31"), load_rule(RULES / "de-fr-threshold.yaml"))
    )
    assert y2022["pairs"][0]["equal_price_share"] == pytest.approx(0.343, abs=0.001)  # SOURCES.md: 34.3%


def test_cli_writes_summary_opportunities_and_a_self_contained_report(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bt"
    code = main(
        [
            "backtest",
            "--prices",
            str(SAMPLE),
            "--rule",
            str(RULES / "all-sample-zones.yaml"),
            "--from",
            "2022-08-01",
            "--to",
            "2022-08-31",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["pairs"]) == 55
    assert all(set(p) >= PAIR_KEYS for p in summary["pairs"])
    assert all(p["zones"] == sorted(p["zones"]) for p in summary["pairs"])
    assert summary["from"] == "2022-08-01T00:00:00+00:00" and summary["to"] == "2022-09-01T00:00:00+00:00"
    totals = summary["totals"]
    assert totals["opportunity_hours"] == sum(p["opportunity_hours"] for p in summary["pairs"])
    lines = (out / "opportunities.csv").read_text().splitlines()
    assert len(lines) == totals["opportunity_hours"] + 1
    report = (out / "report.html").read_text()
    assert report.count("plotly.js v") >= 1 and '<script src="http' not in report
    for title in ("Spread distribution", "hour of day", "Cumulative value", "Price convergence"):
        assert title in report
    assert "55 pairs" in capsys.readouterr().out


def example_rule_files() -> list[Path]:
    examples = sorted((ROOT / "k8s" / "examples").glob("*.yaml"))
    return [p for p in examples if "kind: ArbitrageRule" in p.read_text()] + sorted(RULES.glob("*.yaml"))


@pytest.mark.parametrize("path", example_rule_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_backtest_accepts_every_example_rule(path: Path, sample, tmp_path: Path) -> None:
    code = main(
        [
            "backtest",
            "--prices",
            str(SAMPLE),
            "--rule",
            str(path),
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-07",
            "--out",
            str(tmp_path),
            "--no-report",
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["pairs"] and summary["totals"]["pairs"] == len(summary["pairs"])


def test_a_file_without_a_rule_is_a_clear_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "feed.yaml"
    path.write_text("apiVersion: inthegrid.io/v1alpha1\nkind: MarketFeed\nmetadata: {name: x}\nspec: {}\n")
    assert main(["backtest", "--prices", str(SAMPLE), "--rule", str(path), "--out", str(tmp_path)]) == 2
    assert "no ArbitrageRule" in capsys.readouterr().err
