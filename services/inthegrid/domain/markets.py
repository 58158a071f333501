"""The markets a price can come from, and when their prices arrive (domain.md sections 3 and 5).

- day-ahead (SDAC): one auction a day, gate closure 12:00 CET on D-1, results about 12:45 CET;
- the three intraday auctions (SIDC IDAs): IDA1 gate closure 15:00 D-1 and IDA2 22:00 D-1, both for
  all of day D; IDA3 10:00 on D for the second half of D (12:00-24:00); results about 20 minutes
  after each gate closure;
- continuous intraday (SIDC): trades until shortly before delivery, no single clearing price.

Times are the market's clock (Europe/Brussels, CET/CEST); results are ``gate closure + 20 min``.
Price limits live in domain/prices.py (PriceLimits.bounds): day-ahead -500..4,000 EUR/MWh
(domain.md); intraday -9,999..9,999 EUR/MWh for both continuous trading and the auctions (ACER's
harmonised limits for SIDC; not in domain.md: check).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from inthegrid.domain.prices import Market, Resolution
from inthegrid.errors import ValidationError

MARKET_TZ = ZoneInfo("Europe/Brussels")
INTRADAY_AUCTIONS = (Market.IDA1, Market.IDA2, Market.IDA3)


@dataclass(frozen=True, slots=True)
class AuctionTimes:
    """When one daily auction closes and publishes, and which part of delivery day D it covers."""

    market: Market
    gate_closure: time  # market clock
    days_before: int  # 1: on D-1, 0: on D itself
    results_after: timedelta
    covers_from: time = time(0, 0)  # first delivery hour of D it trades (market clock)

    def closes(self, delivery_day: date) -> datetime:
        day = delivery_day - timedelta(days=self.days_before)
        return datetime.combine(day, self.gate_closure, MARKET_TZ)

    def results(self, delivery_day: date) -> datetime:
        return self.closes(delivery_day) + self.results_after

    def delivery_window(self, delivery_day: date) -> tuple[datetime, datetime]:
        """[start, end) of the delivery this auction trades, as aware datetimes."""
        start = datetime.combine(delivery_day, self.covers_from, MARKET_TZ)
        return start, datetime.combine(delivery_day + timedelta(days=1), time(0, 0), MARKET_TZ)


AUCTIONS: dict[Market, AuctionTimes] = {
    Market.DAY_AHEAD: AuctionTimes(Market.DAY_AHEAD, time(12, 0), 1, timedelta(minutes=45)),
    Market.IDA1: AuctionTimes(Market.IDA1, time(15, 0), 1, timedelta(minutes=20)),
    Market.IDA2: AuctionTimes(Market.IDA2, time(22, 0), 1, timedelta(minutes=20)),
    Market.IDA3: AuctionTimes(Market.IDA3, time(10, 0), 0, timedelta(minutes=20), covers_from=time(12, 0)),
}

# The market time unit by zone. SDAC and the IDAs trade quarter-hours since 2025-10-01 in every
# coupled zone; GB's own auctions trade half-hours; before the go-live most zones were hourly.
_HALF_HOURLY = frozenset({"GB"})
QUARTER_HOUR_GO_LIVE = datetime(2025, 9, 30, 22, 0, tzinfo=ZoneInfo("UTC"))


def market_resolution(zone: str, market: Market, at: datetime) -> Resolution:
    """The period length ``market`` trades in ``zone`` on ``at`` (indicative: check per zone)."""
    if zone in _HALF_HOURLY:
        return Resolution.PT30M
    if market is Market.INTRADAY:
        return Resolution.PT15M  # continuous intraday has traded quarter-hour products for years
    return Resolution.PT15M if at >= QUARTER_HOUR_GO_LIVE else Resolution.PT60M


def auction_of_sequence(sequence: int | None) -> Market:
    """The market of an ENTSO-E intraday (contract A07) series: classificationSequence 1, 2, 3 are
    IDA1, IDA2, IDA3 (the real ES document: sequence 3 covers only 12:00-24:00 CEST, as IDA3 does);
    a series without a sequence is continuous intraday."""
    if sequence is None:
        return Market.INTRADAY
    if 1 <= sequence <= len(INTRADAY_AUCTIONS):
        return INTRADAY_AUCTIONS[sequence - 1]
    raise ValidationError(f"intraday classificationSequence {sequence} is not an auction (1, 2 or 3)")


def known_when(market: Market, delivery_start: datetime) -> datetime | None:
    """When the price of ``market`` for a period starting at ``delivery_start`` is published (None for
    continuous intraday, which has no single publication)."""
    times = AUCTIONS.get(market)
    if times is None:
        return None
    return times.results(delivery_start.astimezone(MARKET_TZ).date())
