"""The bounds of a chosen range of a price table (``--from``/``--to``, INTHEGRID_REPLAY_FROM/_TO).

Without pandas: the streaming replay (sources/table_stream.py) uses them too, and a feed must not pay
for pandas to replay a CSV.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from inthegrid.domain.prices import as_utc
from inthegrid.errors import ValidationError


def range_bound(value: date | datetime | str, *, end: bool) -> datetime:
    """A date means a whole UTC day (the end bound is exclusive: the next midnight); a datetime is exact."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                value = date.fromisoformat(text)
            except ValueError:
                raise ValidationError(f"date {value!r} is not YYYY-MM-DD") from None
        else:
            return as_utc(text)
    if isinstance(value, datetime):
        return as_utc(value)
    moment = as_utc(datetime(value.year, value.month, value.day).isoformat() + "+00:00")
    return moment + timedelta(days=1) if end else moment
