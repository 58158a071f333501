"""Publication-time schedule of the ENTSO-E source (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from inthegrid.sources.entsoe.schedule import days_due, delivery_day, market_day, next_wake, publication_time


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_delivery_days_follow_brussels_midnight_and_clock_changes() -> None:
    assert delivery_day(date(2025, 4, 2)).start == utc("2025-04-01T22:00")
    assert delivery_day(date(2025, 1, 15)).start == utc("2025-01-14T23:00")
    assert delivery_day(date(2025, 3, 30)).hours == 23
    assert delivery_day(date(2025, 10, 26)).hours == 25
    assert delivery_day(date(2025, 10, 27)).hours == 24


def test_publication_is_12_45_brussels_on_the_day_before() -> None:
    assert publication_time(date(2025, 4, 2)) == utc("2025-04-01T10:45")  # CEST
    assert publication_time(date(2025, 1, 15)) == utc("2025-01-14T11:45")  # CET


def test_market_day_of_a_utc_moment() -> None:
    assert market_day(utc("2025-04-01T22:30")) == date(2025, 4, 2)


def test_today_is_due_until_complete_and_tomorrow_only_after_publication() -> None:
    before = utc("2025-04-01T09:00")
    after = utc("2025-04-01T11:00")
    assert days_due(before, set()) == [date(2025, 4, 1)]
    assert days_due(before, {date(2025, 4, 1)}) == []
    assert days_due(after, {date(2025, 4, 1)}) == [date(2025, 4, 2)]
    assert days_due(after, {date(2025, 4, 1), date(2025, 4, 2)}) == []


def test_wakes_soon_while_something_is_missing_then_idles_until_the_next_publication() -> None:
    retry = timedelta(minutes=5)
    now = utc("2025-04-01T11:00")
    assert next_wake(now, {date(2025, 4, 1)}, retry) == now + retry  # tomorrow not there yet
    done = {date(2025, 4, 1), date(2025, 4, 2)}
    assert next_wake(now, done, retry) == utc("2025-04-02T10:45")  # prices of 04-03
    morning = utc("2025-04-01T06:00")
    assert next_wake(morning, {date(2025, 4, 1)}, retry) == utc("2025-04-01T10:45")
