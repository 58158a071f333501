"""When to ask ENTSO-E for day-ahead prices: follow the publication time instead of polling.

SDAC publishes the prices of delivery day D at about 12:45 CET/CEST on D-1 (domain.md section 5).
The delivery day runs from 00:00 to 24:00 Brussels time, so in UTC it is 23, 24 or 25 hours long
on clock-change days. The source fetches today at start (it may have started after publication),
tomorrow once its publication time has passed (retrying until it is there), then idles until the
next publication time. All functions are pure: ``now`` is always given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MARKET_TZ = ZoneInfo("Europe/Brussels")
PUBLICATION_LOCAL_TIME = time(12, 45)


@dataclass(frozen=True, slots=True)
class DeliveryDay:
    day: date
    start: datetime  # UTC
    end: datetime  # UTC, exclusive

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def delivery_day(day: date) -> DeliveryDay:
    """The UTC interval of a delivery day (00:00 to 24:00 Brussels time)."""
    start = datetime.combine(day, time(0), MARKET_TZ).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), MARKET_TZ).astimezone(UTC)
    return DeliveryDay(day, start, end)


def market_day(now: datetime) -> date:
    """The delivery day that contains ``now``."""
    return now.astimezone(MARKET_TZ).date()


def publication_time(day: date) -> datetime:
    """When the day-ahead prices of delivery day ``day`` are expected (D-1 at 12:45 Brussels time)."""
    return datetime.combine(day - timedelta(days=1), PUBLICATION_LOCAL_TIME, MARKET_TZ).astimezone(UTC)


def days_due(now: datetime, complete: set[date]) -> list[date]:
    """Delivery days to fetch now: today, and tomorrow once published, unless already complete."""
    today = market_day(now)
    due = [today] if today not in complete else []
    tomorrow = today + timedelta(days=1)
    if now >= publication_time(tomorrow) and tomorrow not in complete:
        due.append(tomorrow)
    return due


def next_wake(now: datetime, complete: set[date], retry_after: timedelta) -> datetime:
    """When to ask next: soon when something due is still missing, else at the next publication."""
    if days_due(now, complete):
        return now + retry_after
    tomorrow = market_day(now) + timedelta(days=1)
    upcoming = publication_time(tomorrow)
    if upcoming <= now:  # tomorrow already complete: the day after's publication
        upcoming = publication_time(tomorrow + timedelta(days=1))
    return upcoming
