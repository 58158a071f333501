"""The backtest values borders at published capacities where they exist, and says which it used."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from inthegrid.backtest.engine import run_backtest
from inthegrid.backtest.manifest import load_rule
from inthegrid.backtest.summary import build_summary
from inthegrid.cli import main
from inthegrid.domain.capacity import BorderQuantity, CapacityBook, CapacityKind
from inthegrid.sources.table import frame_to_table

ROOT = Path(__file__).parents[2]
RULES = ROOT / "tests" / "fixtures" / "rules"
ENTSOE = ROOT / "tests" / "fixtures" / "entsoe"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_published_capacity_and_schedules_change_the_border_value() -> None:
    frame = pd.DataFrame(
        [
            ("2024-01-01T00:00Z", 50.0, 60.0),  # FR dearer by 10: DE-LU->FR
            ("2024-01-01T01:00Z", 50.0, 60.0),  # same, at the static 5,400 MW
            ("2024-01-01T02:00Z", 80.0, 60.0),  # DE-LU dearer by 20: FR->DE-LU
        ],
        columns=["timestamp_utc", "DE_LU", "FR"],
    )
    result = run_backtest(frame_to_table(frame, "PT60M"), load_rule(RULES / "de-fr-threshold.yaml"))
    book = CapacityBook.of(
        [
            BorderQuantity("DE-LU", "FR", T0, T0 + HOUR, 1000, CapacityKind.FORECAST),
            BorderQuantity("FR", "DE-LU", T0 + 2 * HOUR, T0 + 3 * HOUR, 5400, CapacityKind.SCHEDULED),
            # 100 MW scheduled from DE-LU (80) to FR (60): from the dearer zone, legitimate in Core.
            BorderQuantity("DE-LU", "FR", T0 + 2 * HOUR, T0 + 3 * HOUR, 100, CapacityKind.SCHEDULED),
        ]
    )
    (static,) = build_summary(result)["borders"]
    (border,) = build_summary(result, capacities=book)["borders"]
    assert "capacity_used" not in static
    assert static["congestion_value_by_direction_eur"] == {"DE-LU->FR": 108000.0, "FR->DE-LU": 108000.0}
    # Hour 0 at the published 1,000 MW, hour 1 at the static 5,400 MW; FR->DE-LU keeps its full
    # capacity (congestion income is earned on it) but nothing is left for a later trade.
    assert border["congestion_value_by_direction_eur"] == {"DE-LU->FR": 64000.0, "FR->DE-LU": 108000.0}
    assert border["capacity_used"] == {
        "DE-LU->FR": {"A61": 1, "static": 1, "static-A09": 1},
        "FR->DE-LU": {"static": 2, "static-A09": 1},
    }
    assert border["periods_without_capacity_left"] == {"DE-LU->FR": 0, "FR->DE-LU": 1}
    assert border["adverse_flows"] == {
        "DE-LU->FR": {"periods": {"A09": 1, "A11": 0}, "flow_based": ["Core"]},
        "FR->DE-LU": {"periods": {"A09": 0, "A11": 0}, "flow_based": []},  # cheap to dear: normal
    }


def test_cli_reads_real_a61_documents(tmp_path: Path, capsys) -> None:
    prices = tmp_path / "prices.csv"
    # Three hours inside the ES/FR A61 documents (2026-03-19T06:00Z on): ES dearer by 20, so FR->ES.
    prices.write_text(
        "timestamp_utc,ES,FR\n2026-03-19T06:00Z,70,50\n2026-03-19T07:00Z,70,50\n2026-03-19T08:00Z,50,50\n"
    )
    out = tmp_path / "bt"
    args = [
        "backtest",
        "--prices",
        str(prices),
        "--rule",
        str(RULES / "all-sample-zones.yaml"),
        "--out",
        str(out),
    ]
    files = ["emaps_ES_FR_capacity_day_ahead_export.xml", "emaps_ES_FR_capacity_day_ahead_import.xml"]
    assert main([*args, "--no-report", *(a for f in files for a in ("--capacities", str(ENTSOE / f)))]) == 0
    (border,) = [
        b for b in json.loads((out / "summary.json").read_text())["borders"] if b["border"] == "ES/FR"
    ]
    # FR->ES A61 position 1 = 3006 MW (out_Domain FR, in_Domain ES): 2 h x 20 EUR/MWh x 3006 MW.
    assert border["congestion_value_by_direction_eur"]["FR->ES"] == 2 * 20 * 3006
    assert border["capacity_used"] == {"ES->FR": {"A61": 3}, "FR->ES": {"A61": 3}}
    bad = tmp_path / "bad.xml"
    bad.write_text("<nope/>")
    assert main([*args, "--capacities", str(bad)]) != 0
    assert "Traceback" not in capsys.readouterr().err
