"""The price-table format: read, infer, write, convert; on the shipped sample and small tables."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inthegrid.cli import main
from inthegrid.domain.prices import Resolution
from inthegrid.errors import ValidationError
from inthegrid.sources.entsoe.parse import parse_prices
from inthegrid.sources.table import prices_to_table, read_table, write_table

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
ENTSOE = ROOT / "tests" / "fixtures" / "entsoe"


@pytest.fixture(scope="module")
def sample():
    return read_table(SAMPLE)


def test_sample_table_reads_with_canonical_zones_and_counts(sample) -> None:
    assert sample.period is Resolution.PT60M
    assert sample.zones == ("AT", "BE", "CH", "DE-LU", "DK1", "DK2", "ES", "FR", "IT-NORD", "NL", "PT")
    assert len(sample.frame) == 43848
    counts = sample.frame.count().to_dict()
    assert counts == {
        "AT": 43718,
        "BE": 43766,
        "CH": 40431,
        "DE-LU": 43646,
        "DK1": 28463,
        "DK2": 28463,
        "ES": 43622,
        "FR": 43742,
        "IT-NORD": 8759,
        "NL": 43598,
        "PT": 43334,
    }


def test_sample_facts(sample) -> None:
    y2022 = sample.between("2022-01-01", "2022-12-31").frame
    spread = (y2022["DE-LU"] - y2022["FR"]).dropna()
    assert len(spread) == 8734 and round(spread.mean(), 2) == -40.20
    row = sample.frame.loc[pd.Timestamp("2022-04-04T06:00Z")]
    assert round(row["FR"] - row["DE-LU"], 2) == 2886.62
    assert round(sample.between("2022-01-01", "2022-12-31").frame["DE-LU"].mean(), 2) == 235.32


def test_between_is_whole_utc_days_inclusive(sample) -> None:
    day = sample.between("2023-07-02", "2023-07-02").frame
    assert len(day) == 24
    assert day.index[0] == pd.Timestamp("2023-07-02T00:00Z")
    assert day.loc[pd.Timestamp("2023-07-02T12:00Z"), "DE-LU"] == -500.0


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_underscore_or_hyphen_columns_and_gaps_stay_empty(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv",
        "timestamp_utc,DE_LU,FR\n2024-01-01T01:00:00Z,10,\n"
        "2024-01-01T00:00:00Z,5,7\n2024-01-01T03:00:00Z,1,2\n",
    )
    table = read_table(path)
    assert table.zones == ("DE-LU", "FR")
    assert table.period is Resolution.PT60M  # the 2-hour gap does not confuse the inference
    assert list(table.frame.index.hour) == [0, 1, 3]  # sorted
    assert np.isnan(table.frame.loc[pd.Timestamp("2024-01-01T01:00Z"), "FR"])


def test_quarter_hours_are_inferred_and_unknown_columns_reported(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv", "timestamp_utc,NL,PUN\n2025-10-01T00:00Z,1,2\n2025-10-01T00:15Z,3,4\n"
    )
    table = read_table(path)
    assert table.period is Resolution.PT15M
    assert table.zones == ("NL",) and table.ignored_columns == ("PUN",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,NL\n2024-01-01T00:00Z,1\n", "no timestamp_utc"),
        ("timestamp_utc,NL\n2024-01-01T00:00Z,1\n2024-01-01T00:00Z,2\n", "appears twice"),
        ("timestamp_utc,NL\n2024-01-01T00:00Z,1\n2024-01-01T00:20Z,2\n", "period must be"),
        ("timestamp_utc,NL\n2024-01-01T00:00Z,abc\n2024-01-01T01:00Z,2\n", "not a number"),
        ("timestamp_utc,NL\nyesterday,1\n", "ISO 8601"),
        ("timestamp_utc,DE_LU,DE-LU\n2024-01-01T00:00Z,1,2\n2024-01-01T01:00Z,1,2\n", "two columns"),
    ],
)
def test_bad_tables_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        read_table(write_csv(tmp_path / "bad.csv", text))


def test_given_period_is_checked(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "timestamp_utc,NL\n2024-01-01T00:15Z,1\n")
    assert read_table(path, "PT15M").period is Resolution.PT15M
    with pytest.raises(ValidationError, match="not aligned"):
        read_table(path, "PT60M")


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_round_trip_in_every_format(sample, tmp_path: Path, suffix: str) -> None:
    part = sample.between("2022-10-29", "2022-11-02")
    back = read_table(write_table(part, tmp_path / f"t{suffix}"))
    pd.testing.assert_frame_equal(back.frame, part.frame, check_freq=False, check_index_type=False)
    assert back.period is part.period


def test_gzip_output_is_deterministic(sample, tmp_path: Path) -> None:
    part = sample.between("2024-01-01", "2024-01-02")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_table(part, tmp_path / "a" / "t.csv.gz").read_bytes()
    b = write_table(part, tmp_path / "b" / "t.csv.gz").read_bytes()
    assert a == b
    assert gzip.decompress(a).startswith(b"timestamp_utc,AT,BE,CH,DE-LU")


def test_prices_of_mixed_resolutions_become_one_table() -> None:
    prices = parse_prices((ENTSOE / "emaps_ES_day_ahead_price.xml").read_bytes())
    quarter = prices_to_table(prices)
    assert quarter.period is Resolution.PT15M and len(quarter.frame) == 4 * 96
    first_hour = quarter.frame["ES"].iloc[:4]
    assert first_hour.nunique() == 1  # an hourly price holds for each of its quarter-hours
    hourly = prices_to_table(prices, "PT60M")
    assert hourly.period is Resolution.PT60M and len(hourly.frame) == 96
    q = [p.eur_mwh for p in prices if p.resolution == 15][:4]
    assert hourly.frame["ES"].iloc[48] == pytest.approx(
        sum(q) / 4, abs=0.006
    )  # the hourly index of four quarter-hours


def test_convert_command_writes_the_table_format(tmp_path: Path, capsys) -> None:
    out = tmp_path / "prices.csv"
    docs = [
        ENTSOE / "jarvis_NL_A44_day_ahead_2025-04-02_A03_gap_negative.xml",
        ENTSOE / "openhab_CH_A44_day_ahead_2025-11-26_27.xml",
    ]
    assert main(["convert", *map(str, docs), "--out", str(out)]) == 0
    table = read_table(out)
    assert table.zones == ("CH", "NL") and table.period is Resolution.PT60M
    assert table.frame.loc[pd.Timestamp("2025-04-02T18:00Z"), "NL"] == 114.0
    assert table.frame["NL"].count() == 24 and table.frame["CH"].count() == 48
    assert out.read_text().splitlines()[0] == "timestamp_utc,CH,NL"


def test_convert_reports_an_acknowledgement_clearly(tmp_path: Path, capsys) -> None:
    ack = ENTSOE / "jarvis_NL_A44_no_data_acknowledgement_2023-02-20.xml"
    assert main(["convert", str(ack), "--out", str(tmp_path / "x.csv")]) == 2
    assert "not published yet" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
