"""The replay feed reads its file as it replays it: the same prices as the whole-file read, bounded
memory, and bad rows rejected with their line and reason while the good ones are replayed."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import logging
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inthegrid.domain.prices import Price, Resolution
from inthegrid.errors import ValidationError
from inthegrid.sources.replay import MAX_PERIODS_PER_BATCH, ReplaySource, block_rows
from inthegrid.sources.replay_rows import RejectedRow, ReplayRow, checked_rows, infer_step
from inthegrid.sources.table import read_table, write_table
from inthegrid.sources.table_stream import RawRow, open_table_rows

SAMPLE = Path(__file__).parents[2] / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"
FAST = 1e9  # every period due at once


async def _batches(source: ReplaySource) -> list[list[Price]]:
    return [batch async for batch in source.batches(asyncio.Event())]


@pytest.mark.parametrize(
    ("zones", "first", "last"),
    [(None, "2022-01-01", "2022-12-31"), (["FR", "DE-LU", "PL"], "2020-01-01", "2020-03-31")],
)
async def test_streaming_gives_the_batches_of_the_whole_file_read(
    zones: list[str] | None, first: str, last: str
) -> None:
    streamed = ReplaySource.from_path(SAMPLE, zones, first=first, last=last, speed=FAST)
    whole = ReplaySource.from_table(read_table(SAMPLE).between(first, last), zones, speed=FAST)
    got, want = await _batches(streamed), await _batches(whole)
    assert sum(map(len, want)) > 1000, "the range must hold prices to compare"
    assert got == want
    assert streamed.zones == whole.zones and streamed.period is Resolution.PT60M
    assert streamed.rejected_rows == 0


async def test_a_parquet_file_streams_the_same_prices(tmp_path: Path) -> None:
    table = read_table(SAMPLE).between("2023-07-01", "2023-07-07")
    parquet = write_table(table, tmp_path / "week.parquet")
    got = await _batches(ReplaySource.from_path(parquet, speed=FAST))
    assert got == await _batches(ReplaySource.from_table(table, speed=FAST))


def _endless_rows() -> Iterator[RawRow]:
    """A table that never ends: materialising it would never return."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for k in itertools.count():
        moment = start + timedelta(minutes=15 * k)
        yield RawRow(k + 2, moment.strftime("%Y-%m-%dT%H:%M:%SZ"), (str(k % 97), ""))


def test_rows_are_checked_lazily_one_at_a_time() -> None:
    rows = checked_rows(_endless_rows(), ("FR", "NL"), Resolution.PT15M)
    first = list(itertools.islice(rows, 3))
    assert [r.values[0] for r in first if isinstance(r, ReplayRow)] == [0.0, 1.0, 2.0]
    assert all(v != v for r in first if isinstance(r, ReplayRow) for v in r.values[1:])  # empty: NaN


def _write_csv(path: Path, rows: int) -> None:
    start = datetime(2000, 1, 1, tzinfo=UTC)
    with gzip.open(path, "wt") as out:
        out.write("timestamp_utc,FR,NL,DE_LU\n")
        for k in range(rows):
            moment = start + timedelta(minutes=15 * k)
            out.write(f"{moment:%Y-%m-%dT%H:%M:%SZ},{k % 300}.5,{k % 7},\n")


def _traced_peak(path: Path, keep: bool) -> tuple[int, int]:
    """(rows, peak traced bytes) of reading and checking every row of ``path``, kept or not."""
    tracemalloc.start()
    try:
        with open_table_rows(path) as (header, raw):
            rows = checked_rows(raw, header.zones, Resolution.PT15M)
            count = len(list(rows)) if keep else sum(1 for _ in rows)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded_whatever_the_file_length(tmp_path: Path) -> None:
    path = tmp_path / "long.csv.gz"
    _write_csv(path, 40_000)  # 14 months of quarter-hours
    streamed, peak = _traced_peak(path, keep=False)
    whole, peak_whole = _traced_peak(path, keep=True)  # what holding the rows would cost
    assert streamed == whole == 40_000
    assert peak < 2**20, f"streaming peak {peak / 2**20:.2f} MiB"
    assert peak_whole > 10 * peak, (peak_whole, peak)
    # The replay holds one block of rows at a time on top of that (at most MAX_PERIODS_PER_BATCH).
    assert block_rows(Resolution.PT15M, FAST) == MAX_PERIODS_PER_BATCH


async def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "timestamp_utc,FR,NL,notes\n"
        "2024-01-01T00:00:00Z,10,20,a\n"  # line 2: good
        "2024-01-01T01:00:00Z,11,x,b\n"  # 3: not a number
        "yesterday,12,22,c\n"  # 4: not a time
        "2024-01-01T02:30:00Z,13,23,d\n"  # 5: not aligned to the hour
        "2024-01-01T02:00:00Z,14,24\n"  # 6: a cell short
        "2024-01-01T02:00:00Z,15,25,e\n"  # 7: good
        "2024-01-01T02:00:00Z,16,26,f\n"  # 8: the same period again
        "2024-01-01T01:00:00Z,17,27,g\n"  # 9: out of order
        "2024-01-01T03:00:00Z,,28,h\n"  # 10: good, FR empty
    )
    source = ReplaySource.from_path(path, period=Resolution.PT60M, speed=FAST)
    with caplog.at_level(logging.WARNING, logger="inthegrid.sources.replay"):
        prices = [p for batch in await _batches(source) for p in batch]
    assert [(p.zone, p.delivery_start.hour, p.eur_mwh) for p in prices] == [
        ("FR", 0, 10.0),
        ("NL", 0, 20.0),
        ("FR", 2, 15.0),
        ("NL", 2, 25.0),
        ("NL", 3, 28.0),
    ]
    assert source.rejected_rows == 6
    for expected in (
        "line 3 of",
        "column NL: 'x' is not a number",
        "line 4 of",
        "'yesterday' is not an ISO 8601 time",
        "line 5 of",
        "not aligned to PT60M",
        "line 6 of",
        "3 cells, the header has 4",
        "line 8 of",
        "appears twice",
        "line 9 of",
        "rows must be in time order",
    ):
        assert expected in caplog.text


def test_a_bad_header_is_refused_at_once_naming_the_file(tmp_path: Path) -> None:
    no_time = tmp_path / "no_time.csv"
    no_time.write_text("time,FR\n2024-01-01T00:00:00Z,1\n")
    twice = tmp_path / "twice.csv"
    twice.write_text("timestamp_utc,DE-LU,DE_LU\n2024-01-01T00:00:00Z,1,2\n")
    with pytest.raises(ValidationError, match=r"no_time\.csv: no timestamp_utc column"):
        ReplaySource.from_path(no_time)
    with pytest.raises(ValidationError, match=r"twice\.csv: zone DE-LU appears in two columns"):
        ReplaySource.from_path(twice)
    with pytest.raises(ValidationError, match="does not exist"):
        ReplaySource.from_path(tmp_path / "absent.csv")


def test_the_period_is_inferred_from_the_first_rows_as_the_whole_file_read_does() -> None:
    hours = [datetime(2024, 1, 1, h, tzinfo=UTC) for h in (0, 1, 2, 5, 6)]  # a gap does not confuse it
    assert infer_step(hours) is Resolution.PT60M
    quarters = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * k) for k in range(5)]
    assert infer_step(quarters) is Resolution.PT15M
    with pytest.raises(ValidationError, match="fewer than two rows"):
        infer_step(hours[:1])


def test_a_rejected_row_does_not_move_the_order_check() -> None:
    raw = [RawRow(2, "2024-01-01T01:00:00Z", ("1",)), RawRow(3, "bad", ("2",))]
    raw.append(RawRow(4, "2024-01-01T02:00:00Z", ("3",)))
    out = list(checked_rows(raw, ("FR",), Resolution.PT60M))
    assert [type(r) for r in out] == [ReplayRow, RejectedRow, ReplayRow]


async def test_a_damaged_file_fails_with_a_clear_error_naming_it(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(SAMPLE.read_bytes()[:200_000])  # cut mid-stream: the header and rows read fine
    source = ReplaySource.from_path(truncated, speed=FAST)
    with pytest.raises(ValidationError, match=r"truncated\.csv\.gz cannot be read"):
        await _batches(source)
    not_parquet = tmp_path / "table.parquet"
    not_parquet.write_text("timestamp_utc,FR\n")
    with pytest.raises(ValidationError, match="not a readable Parquet file"):
        ReplaySource.from_path(not_parquet)
