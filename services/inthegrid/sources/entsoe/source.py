"""The ENTSO-E price source: day-ahead prices of the configured zones, as they are published.

Each round asks only for the delivery days the schedule says are due (today at start, tomorrow after
its publication time) and only for zones whose day is not complete yet; "no matching data" means
"not published yet" and is retried later, never a crash. Only prices that are new or changed since
the last batch are yielded, so a re-fetch publishes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from prometheus_client import Counter

from inthegrid.domain.prices import DEFAULT_LIMITS, Market, Price, PriceLimits, Resolution
from inthegrid.domain.zones import get_zone
from inthegrid.errors import ConfigError, NotPublishedYetError, SourceError
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.entsoe.client import EntsoeClient
from inthegrid.sources.entsoe.parse import parse_prices
from inthegrid.sources.entsoe.schedule import DeliveryDay, days_due, delivery_day, next_wake

log = logging.getLogger(__name__)

FETCHES = Counter("inthegrid_entsoe_fetches_total", "ENTSO-E zone-day fetches by outcome", ["outcome"])

PriceKey = tuple[str, datetime, Resolution, Market]


@dataclass(slots=True)
class PublishedMemory:
    """What was published last, per zone and period, so re-fetches publish only news."""

    values: dict[PriceKey, float] = field(default_factory=dict)

    def news(self, prices: list[Price]) -> list[Price]:
        fresh = []
        for p in prices:
            key = (p.zone, p.delivery_start, p.resolution, p.market)
            if self.values.get(key) != p.eur_mwh:
                self.values[key] = p.eur_mwh
                fresh.append(p)
        return fresh

    def forget_before(self, cutoff: datetime) -> None:
        for key in [k for k in self.values if k[1] < cutoff]:
            del self.values[key]


def covers_day(prices: list[Price], day: DeliveryDay) -> bool:
    """True when the prices fill the whole delivery day (23, 24 or 25 hours in UTC)."""
    return sum(p.resolution.hours for p in prices) >= day.hours


class EntsoeSource:
    name = "entsoe"

    def __init__(
        self,
        client: EntsoeClient,
        zones: list[str],
        *,
        retry_after: timedelta = timedelta(minutes=5),
        limits: PriceLimits = DEFAULT_LIMITS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not zones:
            raise ConfigError("the ENTSO-E source needs at least one zone")
        self.client = client
        self.zones = [get_zone(z) for z in zones]
        self.retry_after = retry_after
        self.limits = limits
        self.clock = clock
        self.memory = PublishedMemory()
        self.complete: dict[str, set[date]] = {z.code: set() for z in self.zones}

    @classmethod
    def from_settings(cls, settings: FeedSettings) -> EntsoeSource:
        if settings.entsoe_token is None or not settings.entsoe_token.get_secret_value():
            raise ConfigError("feed source entsoe needs INTHEGRID_ENTSOE_TOKEN (from a Secret)")
        client = EntsoeClient(
            settings.entsoe_base_url,
            settings.entsoe_token,
            requests_per_minute=settings.entsoe_requests_per_minute,
        )
        return cls(client, settings.feed_zones, limits=settings.price_limits)

    def complete_days(self) -> set[date]:
        """Days complete for every zone."""
        return set.intersection(*self.complete.values())

    async def fetch_round(self) -> list[Price]:
        """One pass over the days due now; returns the new or changed prices."""
        fresh: list[Price] = []
        for day in days_due(self.clock(), self.complete_days()):
            interval = delivery_day(day)
            for zone in self.zones:
                if day in self.complete[zone.code]:
                    continue
                prices = await self._fetch_zone_day(zone.code, zone.eic, interval)
                if prices is None:
                    continue
                if covers_day(prices, interval):
                    self.complete[zone.code].add(day)
                fresh.extend(self.memory.news(prices))
        self._forget_old()
        return fresh

    async def _fetch_zone_day(self, zone: str, eic: str, interval: DeliveryDay) -> list[Price] | None:
        try:
            document = await self.client.fetch_day_ahead(eic, interval.start, interval.end)
            prices = parse_prices(document, source=self.name, limits=self.limits)
        except NotPublishedYetError:
            FETCHES.labels("not_published").inc()
            log.info("ENTSO-E day-ahead %s for %s: not published yet", interval.day, zone)
            return None
        except SourceError as exc:
            FETCHES.labels("error").inc()
            log.warning("ENTSO-E day-ahead %s for %s failed: %s", interval.day, zone, exc)
            return None
        FETCHES.labels("ok").inc()
        return [
            p
            for p in prices
            if p.zone == zone
            and p.market is Market.DAY_AHEAD
            and interval.start <= p.delivery_start < interval.end
        ]

    def _forget_old(self) -> None:
        today = self.clock().date()
        for days in self.complete.values():
            days.difference_update({d for d in days if d < today - timedelta(days=2)})
        self.memory.forget_before(self.clock() - timedelta(days=3))

    async def batches(self, stop: asyncio.Event) -> AsyncIterator[list[Price]]:
        try:
            while not stop.is_set():
                fresh = await self.fetch_round()
                if fresh:
                    yield fresh
                now = self.clock()
                wake = next_wake(now, self.complete_days(), self.retry_after)
                log.debug("ENTSO-E source sleeps until %s", wake.isoformat())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, (wake - now).total_seconds()))
        finally:
            await self.client.aclose()
