"""Prices: one clearing price for one zone, market and delivery period."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum

from inthegrid.domain.utc_text import compact_stamp, parse_iso
from inthegrid.domain.zones import zone_code, zone_code_at
from inthegrid.errors import PriceOutOfRangeError, UnknownZoneError, ValidationError

# Harmonised SDAC clearing-price limits, EUR/MWh (domain.md section 5).
HARMONISED_MIN_EUR_MWH = -500.0
HARMONISED_MAX_EUR_MWH = 4000.0
# Intraday (SIDC continuous trading and the intraday auctions) has its own, wider harmonised limits
# (check: ACER's HMMCP methodology for intraday); a valid intraday price must not meet day-ahead's.
INTRADAY_MIN_EUR_MWH = -9999.0
INTRADAY_MAX_EUR_MWH = 9999.0


class Resolution(IntEnum):
    """Length of a delivery period in minutes (the market time unit)."""

    PT15M = 15
    PT30M = 30  # some markets clear half-hours (e.g. GB's intraday auctions)
    PT60M = 60

    @property
    def iso(self) -> str:
        return f"PT{self.value}M"

    @property
    def hours(self) -> float:
        return self.value / 60.0

    @property
    def delta(self) -> timedelta:
        return timedelta(minutes=self.value)

    @classmethod
    def parse(cls, value: object) -> Resolution:
        """Accept 15, 30, 60, '15', 'PT15M', 'PT30M', 'PT60M', 'PT1H'."""
        text = str(value).strip().upper()
        aliases = {"15": 15, "PT15M": 15, "30": 30, "PT30M": 30, "60": 60, "PT60M": 60, "PT1H": 60}
        if text in aliases:
            return cls(aliases[text])
        raise ValidationError(f"resolution {value!r} is not one of PT15M, PT30M, PT60M")


class Market(StrEnum):
    DAY_AHEAD = "day_ahead"
    INTRADAY = "intraday"  # continuous intraday trading (SIDC)
    # The three pan-European intraday auctions (SIDC IDAs; domain/markets.py has their times).
    IDA1 = "ida1"
    IDA2 = "ida2"
    IDA3 = "ida3"

    @classmethod
    def parse(cls, value: object) -> Market:
        text = str(value).strip().lower().replace("-", "_")
        for member in cls:
            if member.value == text:
                return member
        raise ValidationError(f"market {value!r} is not one of {', '.join(m.value for m in cls)}")


@dataclass(frozen=True, slots=True)
class PriceLimits:
    """Accepted prices per market: day-ahead's (configurable) and intraday's own."""

    min_eur_mwh: float = HARMONISED_MIN_EUR_MWH
    max_eur_mwh: float = HARMONISED_MAX_EUR_MWH
    intraday_min_eur_mwh: float = INTRADAY_MIN_EUR_MWH
    intraday_max_eur_mwh: float = INTRADAY_MAX_EUR_MWH

    def bounds(self, market: Market) -> tuple[float, float]:
        if market is not Market.DAY_AHEAD:  # continuous intraday and the intraday auctions
            return self.intraday_min_eur_mwh, self.intraday_max_eur_mwh
        return self.min_eur_mwh, self.max_eur_mwh

    def check(self, zone: str, value: float, market: Market = Market.DAY_AHEAD) -> None:
        if not math.isfinite(value):
            raise PriceOutOfRangeError(f"price for {zone} is not a finite number: {value!r}")
        low, high = self.bounds(market)
        if not low <= value <= high:
            raise PriceOutOfRangeError(
                f"price {value:.2f} EUR/MWh for {zone} is outside the limits "
                f"[{low:g}, {high:g}] EUR/MWh of the {market.value} market"
            )


DEFAULT_LIMITS = PriceLimits()


@dataclass(frozen=True, slots=True)
class Price:
    zone: str
    delivery_start: datetime  # UTC, start of the delivery period
    resolution: Resolution
    market: Market
    eur_mwh: float
    source: str
    published_at: datetime  # UTC, when the source made it known

    @property
    def delivery_end(self) -> datetime:
        return self.delivery_start + self.resolution.delta

    @property
    def period_key(self) -> tuple[Market, datetime, Resolution]:
        return (self.market, self.delivery_start, self.resolution)

    @property
    def message_id(self) -> str:
        """Deduplication id on the bus: the same price from the same source is one message.

        The value is part of the id so that a correction (ENTSO-E republishing a changed price)
        is a new message while a plain re-publish is dropped by JetStream.
        """
        return (
            f"price:{self.source}:{self.market.value}:{self.zone}:"
            f"{compact_stamp(self.delivery_start)}:{self.resolution.iso}:{self.eur_mwh:.2f}"
        )


def as_utc(value: datetime | str) -> datetime:
    """A timezone-aware UTC datetime from a datetime or ISO-8601 string; naive input is refused."""
    if isinstance(value, str):
        try:
            value = parse_iso(value)
        except ValueError:
            raise ValidationError(f"time {value!r} is not ISO 8601") from None
    if not isinstance(value, datetime):
        raise ValidationError(f"time {value!r} is not a datetime")
    if value.tzinfo is None:
        raise ValidationError(f"time {value.isoformat()} has no time zone; give UTC (suffix Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable UTC instant
        raise ValidationError(f"time {value.isoformat()} is outside the representable range") from None


def floor_to_period(moment: datetime, resolution: Resolution) -> datetime:
    moment = as_utc(moment)
    minutes = (moment.minute // resolution.value) * resolution.value if resolution.value < 60 else 0
    return moment.replace(minute=minutes, second=0, microsecond=0)


def make_price(
    zone: str,
    delivery_start: datetime | str,
    eur_mwh: float,
    *,
    resolution: Resolution | int | str = Resolution.PT60M,
    market: Market | str = Market.DAY_AHEAD,
    source: str = "unknown",
    published_at: datetime | str | None = None,
    limits: PriceLimits = DEFAULT_LIMITS,
) -> Price:
    """Validate and build a Price; every rejection says which value and why."""
    try:
        code = zone_code(zone)
    except UnknownZoneError:
        code = zone_code_at(zone, as_utc(delivery_start))  # DE-AT-LU, for the dates it existed
    res = resolution if isinstance(resolution, Resolution) else Resolution.parse(resolution)
    mkt = market if isinstance(market, Market) else Market.parse(market)
    start = as_utc(delivery_start)
    if start != floor_to_period(start, res):
        raise ValidationError(
            f"delivery start {start.isoformat()} for {code} is not aligned to a {res.iso} period"
        )
    try:
        value = float(eur_mwh)
    except (TypeError, ValueError):
        raise ValidationError(f"price for {code} is not a number: {eur_mwh!r}") from None
    limits.check(code, value, mkt)
    if not source or len(source) > 64:
        raise ValidationError("source must be a non-empty name of at most 64 characters")
    published = as_utc(published_at) if published_at is not None else datetime.now(UTC)
    return Price(code, start, res, mkt, round(value, 2), source, published)
