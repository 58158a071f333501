"""The backtest tab's pure parts: what prices it fetches and the table it hands to the backtest."""

from __future__ import annotations

from pathlib import Path

import yaml

from inthegrid.dashboard.backtest import (
    PROOF_OF_CONCEPT_MANIFEST,
    backtest_argv,
    backtest_available,
    history_table,
    render_report_frame,
    rule_zones,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rules"


def test_rule_zones_of_the_built_in_and_a_fixture_manifest(tmp_path: Path) -> None:
    built_in = tmp_path / "rule.yaml"
    built_in.write_text(yaml.safe_dump(PROOF_OF_CONCEPT_MANIFEST))
    assert rule_zones(built_in) == ["AT", "BE", "DE-LU", "FR", "NL"]
    assert rule_zones(FIXTURES / "proof-of-concept.yaml") == ["AT", "BE", "DE-LU", "FR", "NL"]


def test_history_table_is_wide_by_delivery_start_with_gaps_left_empty() -> None:
    table = history_table(
        {
            "FR": [
                {"delivery_start": "2026-01-01T10:00:00Z", "price": 80.0},
                {"delivery_start": "2026-01-01T10:15:00Z", "price": 81.0},
            ],
            "DE-LU": [{"delivery_start": "2026-01-01T10:00:00Z", "price": 60.0}],
        }
    )
    assert list(table.columns) == ["timestamp_utc", "FR", "DE-LU"]
    assert list(table["timestamp_utc"]) == ["2026-01-01T10:00:00Z", "2026-01-01T10:15:00Z"]
    assert table["DE-LU"].isna().tolist() == [False, True]
    assert history_table({"FR": []}).empty


def test_backtest_argv_and_sandboxed_report() -> None:
    argv = backtest_argv(Path("p.csv"), Path("r.yaml"), Path("out"), "2026-01-01", "")
    assert argv[-8:] == ["--prices", "p.csv", "--rule", "r.yaml", "--out", "out", "--from", "2026-01-01"]
    frame = render_report_frame('<script>alert("x")</script>')
    assert 'sandbox="allow-scripts"' in frame and "<script>" not in frame


def test_backtest_program_is_found_in_this_build() -> None:
    assert backtest_available()
