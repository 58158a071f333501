"""Validating a price table's rows one at a time, in file order (pure: no I/O, no pandas).

What ``read_table`` checks of a whole table, a streamed replay checks row by row: the period start
is ISO 8601 (UTC; a time without zone is UTC, as pandas reads it), aligned to the table's period,
and later than the previous row's (the files are ordered; a row out of order or repeated would be
a period published twice or late); each cell is a number or empty (no price, never filled in). A row
that fails is rejected with its line and reason, and the replay goes on: the rows before and after
it are good prices. The period is inferred from the first rows (the most common step), or given.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from inthegrid.domain.prices import Resolution
from inthegrid.errors import InTheGridError, ValidationError
from inthegrid.sources.table_stream import RawRow

PERIOD_SAMPLE_ROWS = 500  # rows read ahead to infer the period (a day of quarter-hours, five times)


@dataclass(frozen=True, slots=True)
class ReplayRow:
    line: int
    start: datetime  # UTC start of the delivery period
    values: tuple[float, ...]  # EUR/MWh by zone column; NaN = no price


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str


def parse_start(cell: object) -> datetime:
    """A period start from its cell: an ISO 8601 text or a datetime (Parquet), as UTC."""
    if isinstance(cell, datetime):
        moment = cell
    elif isinstance(cell, str) and cell.strip():
        try:
            moment = datetime.fromisoformat(cell.strip())
        except ValueError:
            raise ValidationError(f"{cell!r} is not an ISO 8601 time") from None
    else:
        raise ValidationError(f"no period start ({cell!r})")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_value(cell: object) -> float:
    """A price cell: a number, or empty (None, '') for no price."""
    if cell is None or cell == "":
        return math.nan
    try:
        return float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"{cell!r} is not a number") from None


def infer_step(starts: Sequence[datetime]) -> Resolution:
    """The most common step between consecutive starts; gaps (missing rows) do not confuse it."""
    if len(starts) < 2:
        raise ValidationError("cannot infer the period from fewer than two rows; give it (PT15M or PT60M)")
    steps = Counter(int((b - a).total_seconds() // 60) for a, b in itertools.pairwise(starts))
    minutes = min(steps, key=lambda m: (-steps[m], m))  # the smallest of the most common, as pandas' mode
    try:
        return Resolution.parse(minutes)
    except ValidationError:
        raise ValidationError(
            f"rows are {minutes} minutes apart; the period must be PT15M or PT60M"
        ) from None


def sample_starts(rows: Iterable[RawRow], count: int = PERIOD_SAMPLE_ROWS) -> list[datetime]:
    """The readable period starts of the first ``count`` rows (to infer the period from)."""
    out: list[datetime] = []
    for row in rows:
        with contextlib.suppress(InTheGridError):  # a bad row is rejected later, with its line
            out.append(parse_start(row.timestamp))
        if len(out) >= count:
            break
    return out


def check_row(
    row: RawRow, columns: Sequence[str], period: Resolution, previous: datetime | None
) -> ReplayRow | RejectedRow:
    """One row as the replay takes it, or why not."""
    try:
        start = parse_start(row.timestamp)
    except ValidationError as exc:
        reason = str(row.cells[0]) if row.timestamp is None and row.cells else f"timestamp_utc: {exc}"
        return RejectedRow(row.line, reason)
    if (start.hour * 60 + start.minute) % period or start.second or start.microsecond:
        return RejectedRow(row.line, f"period {start.isoformat()} is not aligned to {period.iso}")
    if previous is not None and start <= previous:
        what = "appears twice" if start == previous else f"comes after {previous.isoformat()}"
        return RejectedRow(row.line, f"period {start.isoformat()} {what}: rows must be in time order")
    values = []
    for zone, cell in zip(columns, row.cells, strict=True):
        try:
            values.append(parse_value(cell))
        except ValidationError as exc:
            return RejectedRow(row.line, f"column {zone}: {exc}")
    return ReplayRow(row.line, start, tuple(values))


def checked_rows(
    rows: Iterable[RawRow],
    columns: Sequence[str],
    period: Resolution,
    first: datetime | None = None,
    end: datetime | None = None,
) -> Iterator[ReplayRow | RejectedRow]:
    """The rows from ``first`` (inclusive) to ``end`` (exclusive), checked, lazily: the rows are
    ordered, so reading stops at the first row at or after ``end``."""
    previous: datetime | None = None
    for raw in rows:
        row = check_row(raw, columns, period, previous)
        if isinstance(row, RejectedRow):
            yield row
            continue
        previous = row.start
        if end is not None and row.start >= end:
            return
        if first is None or row.start >= first:
            yield row
