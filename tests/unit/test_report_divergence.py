"""The backtest report's divergence section: present with the real table's figures, labelled as
congestion value, and plotly.js still embedded exactly once."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from inthegrid.backtest.report_divergence import render_divergence_section
from inthegrid.cli import main

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
RULE = ROOT / "tests" / "fixtures" / "rules" / "proof-of-concept.yaml"


def test_report_has_the_divergence_section_with_the_published_negative_hours(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    argv = [
        "backtest",
        "--prices",
        str(SAMPLE),
        "--rule",
        str(RULE),
        "--from",
        "2023-01-01",
        "--to",
        "2023-12-31",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Divergence: when and how often prices part" in report
    assert report.count("plotly.js v") == 1  # the section reuses the page's plotly.js
    assert "Share of hours with equal prices per border" in report and "Correlation of zone prices" in report
    assert "not a trader&#x27;s profit" in report or "not a trader's profit" in report
    table = report.split("Hours with negative prices")[1].split("</table>")[0]
    header = re.findall(r"<th>([^<]*)</th>", table)
    rows = [re.findall(r"<td>([^<]*)</td>", row) for row in table.split("<tr")[2:]]
    row_2023 = dict(zip(header, next(r for r in rows if r[0] == "2023"), strict=True))
    # --from 2023-01-01 in UTC misses Brussels' first hour of 2023, which was negative in DE-LU: the
    # table counts 300 there, and the market-time year (301, published) in the analytics tests.
    assert row_2023["DE-LU"] == "300.00"


def test_section_includes_plotly_when_the_page_has_no_figure_and_is_empty_without_two_zones() -> None:
    index = pd.date_range("2023-03-01", periods=300, freq="h", tz="UTC")
    frame = pd.DataFrame({"DE-LU": [50.0] * 300, "FR": [50.0 + (i % 3) for i in range(300)]}, index=index)
    parts = render_divergence_section(frame, ["DE-LU", "FR"], 1.0, include_plotlyjs=True)
    assert sum("plotly.js v" in p for p in parts) == 1
    assert any("DE-LU = FR" in p for p in parts)
    frame["FR"] = math.nan
    assert render_divergence_section(frame, ["DE-LU", "FR"], 1.0, include_plotlyjs=True) == []
