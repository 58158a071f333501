"""UTC times as the bus and the ids spell them, and back, with the answers of recent times kept.

Every price and event carries a few times, and the same ones recur: a batch's items share their
detection time, and a quarter-hour is named by every price and pair of its period. Formatting and
parsing were the largest single costs of encoding and decoding events (bench/bench_event_path.py),
so the last few thousand answers are kept. Only UTC datetimes are cached: equal datetimes in other
zones hash alike but spell different wall times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

_CACHED = 4096


def iso_z(moment: datetime) -> str:
    """``2026-01-01T00:00:00Z``: the wall time as is, tagged Z (callers pass UTC)."""
    if moment.tzinfo is UTC:
        return _iso_z(moment)
    return moment.replace(tzinfo=None).isoformat() + "Z"


@lru_cache(maxsize=_CACHED)
def _iso_z(moment: datetime) -> str:
    # isoformat() writes microseconds only when there are any.
    return moment.replace(tzinfo=None).isoformat() + "Z"


def compact_stamp(moment: datetime) -> str:
    """``20260101T1000Z``, as ids name a delivery period."""
    if moment.tzinfo is UTC:
        return _compact_stamp(moment)
    return moment.strftime("%Y%m%dT%H%MZ")


@lru_cache(maxsize=_CACHED)
def _compact_stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%MZ")


@lru_cache(maxsize=_CACHED)
def parse_iso(text: str) -> datetime:
    """``datetime.fromisoformat`` of ``text`` with a trailing Z read as UTC; ValueError if it is not a
    time (not cached: a failed parse raises)."""
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
