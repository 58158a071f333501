"""The price-table format for history: one row per delivery period, one column per zone.

``timestamp_utc`` (ISO 8601, the START of the delivery period, UTC) then one column per zone in
EUR/MWh; zone columns may be written with ``-`` or ``_`` (DE-LU or DE_LU) or any alias the domain
knows. An empty cell means "no price" and stays NaN: nothing is ever filled in. Files are CSV,
gzipped CSV (``.csv.gz``) or Parquet (``.parquet``). The period length (PT15M or PT60M) is given
or inferred from the most common step between rows.

The backtest and the replay source both read tables through ``read_table``; ``inthegrid convert``
writes them with ``write_table``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from inthegrid.domain.prices import Market, Price, Resolution
from inthegrid.errors import InTheGridError, ValidationError
from inthegrid.sources.replay_rows import infer_step
from inthegrid.sources.table_range import range_bound
from inthegrid.sources.table_stream import TIMESTAMP_COLUMN, read_header


@dataclass(frozen=True)
class PriceTable:
    """Prices by period (rows, UTC DatetimeIndex, sorted, unique) and zone (columns, zone codes)."""

    frame: pd.DataFrame
    period: Resolution
    ignored_columns: tuple[str, ...] = ()

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(self.frame.columns)

    @property
    def period_hours(self) -> float:
        return self.period.hours

    def between(self, first: date | datetime | str | None, last: date | datetime | str | None) -> PriceTable:
        """Rows from the start of ``first`` to the end of ``last`` (dates are whole UTC days, inclusive)."""
        index = self.frame.index
        keep = np.ones(len(index), dtype=bool)
        if first is not None:
            keep &= index >= pd.Timestamp(range_bound(first, end=False))
        if last is not None:
            keep &= index < pd.Timestamp(range_bound(last, end=True))
        return replace(self, frame=self.frame.loc[keep])


def read_table(path: str | Path, period: Resolution | str | None = None) -> PriceTable:
    """Read a CSV, CSV.gz or Parquet price table; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"price table {path} does not exist")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
        else:
            raw = pd.read_csv(path, dtype={TIMESTAMP_COLUMN: str})
    except InTheGridError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for an unreadable file
        raise ValidationError(f"price table {path} cannot be read: {exc}") from None
    try:
        return frame_to_table(raw, period)
    except ValidationError as exc:
        raise ValidationError(f"price table {path}: {exc}") from None


def frame_to_table(raw: pd.DataFrame, period: Resolution | str | None = None) -> PriceTable:
    """Normalise a frame with ``timestamp_utc`` and zone columns into a PriceTable."""
    # The header is checked as a streamed replay checks it: one definition of the format's columns.
    header, _, positions = read_header([str(name) for name in raw.columns])
    try:
        index = pd.DatetimeIndex(pd.to_datetime(raw[TIMESTAMP_COLUMN], utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{TIMESTAMP_COLUMN} is not ISO 8601 ({exc})") from None
    if index.hasnans:
        raise ValidationError(f"{TIMESTAMP_COLUMN} has empty cells")
    columns: dict[str, np.ndarray] = {}
    for code, position in zip(header.zones, positions, strict=True):
        try:
            columns[code] = pd.to_numeric(raw.iloc[:, position], errors="raise").to_numpy(dtype=float)
        except (ValueError, TypeError):
            raise ValidationError(
                f"column {raw.columns[position]} has a value that is not a number"
            ) from None
    frame = pd.DataFrame(columns, index=index.rename(TIMESTAMP_COLUMN))
    if frame.index.has_duplicates:
        first = frame.index[frame.index.duplicated()][0]
        raise ValidationError(f"period {first.isoformat()} appears twice")
    frame = frame.sort_index()
    resolution = Resolution.parse(period) if period is not None else infer_period(frame.index)
    step = pd.Timedelta(minutes=int(resolution))
    misaligned = frame.index[(frame.index - frame.index.normalize()) % step != pd.Timedelta(0)]
    if len(misaligned):
        raise ValidationError(f"period {misaligned[0].isoformat()} is not aligned to {resolution.iso}")
    return PriceTable(frame, resolution, header.ignored_columns)


def infer_period(index: pd.DatetimeIndex) -> Resolution:
    """The most common step between consecutive rows; gaps (missing rows) do not confuse it."""
    return infer_step(list(index.to_pydatetime()))


def write_table(table: PriceTable, path: str | Path) -> Path:
    """Write CSV (``.csv``), gzipped CSV (``.csv.gz``) or Parquet (``.parquet``) by suffix."""
    path = Path(path)
    out = table.frame.copy()
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        out.index.name = TIMESTAMP_COLUMN
        out.reset_index().to_parquet(path, index=False)
        return path
    if not name.endswith((".csv", ".csv.gz")):
        raise ValidationError(f"output {path} must end in .csv, .csv.gz or .parquet")
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.index.name = TIMESTAMP_COLUMN
    # mtime=0: the same table always gives the same bytes.
    compression = {"method": "gzip", "mtime": 0} if name.endswith(".gz") else None
    out.to_csv(path, compression=compression, lineterminator="\n")
    return path


def prices_to_table(
    prices: Iterable[Price], period: Resolution | str | None = None, market: Market = Market.DAY_AHEAD
) -> PriceTable:
    """A table from prices, e.g. parsed A44 documents, at one period length.

    Without ``period`` the finest resolution present is used. Hourly prices in a quarter-hour table
    hold for each of their four quarter-hours (a period price applies to its whole period); a
    quarter-hour series in an hourly table becomes the mean of its four quarter-hours (the hourly
    index, domain.md section 5), only for hours with all four.
    """
    rows = [(p.delivery_start, p.zone, int(p.resolution), p.eur_mwh) for p in prices if p.market is market]
    if not rows:
        raise ValidationError(f"no {market.value} prices to write")
    data = pd.DataFrame(rows, columns=["start", "zone", "minutes", "eur_mwh"])
    target = Resolution.parse(period) if period is not None else Resolution(int(data["minutes"].min()))
    parts = []
    for minutes, group in data.groupby("minutes"):
        wide = group.pivot_table(index="start", columns="zone", values="eur_mwh", aggfunc="last")
        wide.index = pd.DatetimeIndex(wide.index, tz="UTC") if wide.index.tz is None else wide.index
        if minutes == int(target):
            parts.append(wide)
        elif minutes > int(target):
            reps = int(minutes) // int(target)
            parts.append(_expand(wide, reps, pd.Timedelta(minutes=int(target))))
        else:
            parts.append(_hourly_mean(wide, int(target) // int(minutes)))
    frame = parts[0]
    for extra in parts[1:]:
        frame = frame.combine_first(extra)
    frame = frame.sort_index()
    frame.index.name = TIMESTAMP_COLUMN
    frame.columns.name = None
    return PriceTable(frame[sorted(frame.columns)].astype(float), target)


def _expand(wide: pd.DataFrame, reps: int, step: pd.Timedelta) -> pd.DataFrame:
    pieces = []
    for k in range(reps):
        shifted = wide.copy()
        shifted.index = wide.index + k * step
        pieces.append(shifted)
    return pd.concat(pieces).sort_index()


def _hourly_mean(wide: pd.DataFrame, per_hour: int) -> pd.DataFrame:
    hours = wide.index.floor("h")
    counts = wide.groupby(hours).count()
    means = wide.groupby(hours).mean().round(2)
    return means.where(counts == per_hour)
