"""What the ENTSO-E source remembers: only new or changed prices are published (pure parts)."""

from __future__ import annotations

from datetime import date

from inthegrid.domain.prices import make_price
from inthegrid.sources.entsoe.schedule import delivery_day
from inthegrid.sources.entsoe.source import PublishedMemory, covers_day


def price(hour: int, value: float, zone: str = "NL"):
    return make_price(zone, f"2025-04-01T{hour:02d}:00Z", value, source="entsoe")


def test_only_new_or_changed_prices_are_news() -> None:
    memory = PublishedMemory()
    first = [price(0, 50.0), price(1, 51.0)]
    assert memory.news(first) == first
    assert memory.news(first) == []  # a re-fetch publishes nothing
    corrected = [price(0, 50.0), price(1, 55.5), price(2, 60.0)]
    assert [(p.delivery_start.hour, p.eur_mwh) for p in memory.news(corrected)] == [(1, 55.5), (2, 60.0)]


def test_a_day_is_complete_only_when_every_hour_is_there() -> None:
    spring = delivery_day(date(2025, 3, 30))  # 23 hours
    hours = [
        make_price("NL", spring.start.replace(hour=0) + (spring.start - spring.start.replace(hour=0)), 1.0)
    ]
    assert not covers_day(hours, spring)
    from datetime import timedelta

    full = [make_price("NL", spring.start + timedelta(hours=h), 1.0) for h in range(23)]
    assert covers_day(full, spring)
    assert not covers_day(full[:-1], spring)
