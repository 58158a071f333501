"""A price table (sources/table.py's format) read row by row, never whole, and without pandas.

A replay of five years must not hold five years: the feed reads one row at a time, in file order,
and validates each (sources/replay_rows.py). The header is checked at once: a ``timestamp_utc``
column, zone columns (aliases allowed, the same zone twice refused), other columns ignored and
reported. CSV and gzipped CSV are read with the csv module; Parquet in record batches (pyarrow,
imported only for a Parquet file).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from inthegrid.domain.zones import zone_code
from inthegrid.errors import InTheGridError, ValidationError

TIMESTAMP_COLUMN = "timestamp_utc"
PARQUET_BATCH_ROWS = 4096


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row as stored: its line (CSV: the file's line number; Parquet: header is line 1 too),
    its timestamp cell and its cells of the header's zone columns, in header order."""

    line: int
    timestamp: object
    cells: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class TableHeader:
    zones: tuple[str, ...]  # zone codes of the zone columns, in file order
    ignored_columns: tuple[str, ...]  # columns that are not zones (reported, never guessed)


def read_header(names: list[str]) -> tuple[TableHeader, int, list[int]]:
    """The header, the timestamp column's position and the zone columns' positions."""
    if TIMESTAMP_COLUMN not in names:
        raise ValidationError(f"no {TIMESTAMP_COLUMN} column (columns: {', '.join(names)})")
    zones: list[str] = []
    positions: list[int] = []
    ignored: list[str] = []
    for position, name in enumerate(names):
        if name == TIMESTAMP_COLUMN:
            continue
        try:
            code = zone_code(name)
        except InTheGridError:
            ignored.append(name)
            continue
        if code in zones:
            raise ValidationError(f"zone {code} appears in two columns")
        zones.append(code)
        positions.append(position)
    return TableHeader(tuple(zones), tuple(ignored)), names.index(TIMESTAMP_COLUMN), positions


def _csv_rows(handle: IO[str]) -> tuple[TableHeader, Iterator[RawRow]]:
    reader = csv.reader(handle)
    try:
        names = next(reader)
    except StopIteration:
        raise ValidationError("the file is empty (no header)") from None
    header, ts, positions = read_header(names)
    width = len(names)

    def rows() -> Iterator[RawRow]:
        for line, cells in enumerate(reader, start=2):
            if not cells:
                continue  # a blank line (e.g. at the end)
            if len(cells) != width:
                # Kept as a row so that it is rejected with its line, not silently skipped.
                yield RawRow(line, None, (f"{len(cells)} cells, the header has {width}",))
                continue
            yield RawRow(line, cells[ts], tuple(cells[p] for p in positions))

    return header, rows()


def _parquet_rows(path: Path) -> tuple[TableHeader, Iterator[RawRow]]:
    import pyarrow as pa  # only for a Parquet file: pyarrow is large
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except pa.ArrowException as exc:
        raise ValidationError(f"not a readable Parquet file: {exc}") from None
    names = list(file.schema_arrow.names)
    header, ts, positions = read_header(names)

    def rows() -> Iterator[RawRow]:
        line = 1
        try:
            for batch in file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                columns: list[list[Any]] = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                for k in range(batch.num_rows):
                    line += 1
                    yield RawRow(line, columns[ts][k], tuple(columns[p][k] for p in positions))
        except pa.ArrowException as exc:
            raise ValidationError(f"cannot read the rows after line {line}: {exc}") from None

    return header, rows()


@contextmanager
def open_table_rows(path: str | Path) -> Iterator[tuple[TableHeader, Iterator[RawRow]]]:
    """The header and an iterator over the data rows, in file order; the file is closed on exit.
    Errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"price table {path} does not exist")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            yield _parquet_rows(path)
            return
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", newline="", encoding="utf-8") as handle:
            yield _csv_rows(handle)
    except ValidationError as exc:
        raise ValidationError(f"price table {path}: {exc}") from None
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:  # EOFError: a truncated .gz
        raise ValidationError(f"price table {path} cannot be read: {exc}") from None
