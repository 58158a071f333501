"""One zone across markets: day-ahead against an intraday auction (or one auction against a later one).

A position taken in an earlier market can be closed in a later one in the same zone, without any
border: buy on day-ahead, sell the same quarter-hour back in IDA1. It is a real trade only when the
earlier market's results are known before the later market's gate closes (day-ahead results at
about 12:45 D-1, IDA1 gate closure 15:00 D-1) and the later market trades that period (IDA3 only
12:00-24:00). The later price is not known when the position is taken, so the ex-post spread is what
the position would have earned: an upper bound of a bet, not a riskless profit.

Its label is "market_timing": issue 11's capture labels describe borders (congestion income,
explicit capacity, none), and this trade crosses no border.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inthegrid.domain.markets import AUCTIONS, MARKET_TZ
from inthegrid.domain.prices import Market, Price
from inthegrid.errors import ValidationError

MARKET_TIMING = "market_timing"


def sequential(first: Market, later: Market, delivery_start: datetime) -> bool:
    """True when ``first``'s results are out before ``later`` closes for this period, and ``later``
    trades it. Continuous intraday trades until shortly before delivery: any auction precedes it."""
    if first not in AUCTIONS:
        return False
    day = delivery_start.astimezone(MARKET_TZ).date()
    if later is Market.INTRADAY:
        return AUCTIONS[first].results(day) < delivery_start
    if later not in AUCTIONS:
        return False
    start, end = AUCTIONS[later].delivery_window(day)
    return start <= delivery_start < end and AUCTIONS[first].results(day) < AUCTIONS[later].closes(day)


@dataclass(frozen=True, slots=True)
class CrossMarketValue:
    zone: str
    delivery_start: datetime
    first: Price  # the earlier market's price
    later: Price  # the later market's price

    @property
    def spread_eur_mwh(self) -> float:
        """What 1 MWh earned: bought in the earlier market and sold in the later one when the later
        price was higher, sold first and bought back otherwise."""
        return round(abs(self.later.eur_mwh - self.first.eur_mwh), 2)

    @property
    def strategy(self) -> str:
        a, b = self.first.market.value, self.later.market.value
        p_a, p_b = f"{self.first.eur_mwh:.2f}", f"{self.later.eur_mwh:.2f}"
        if self.later.eur_mwh >= self.first.eur_mwh:
            return f"buy {self.zone} in {a} at {p_a}, sell in {b} at {p_b}"
        return f"sell {self.zone} in {a} at {p_a}, buy back in {b} at {p_b}"

    @property
    def value_eur_per_mw(self) -> float:
        return round(self.spread_eur_mwh * self.first.resolution.hours, 2)

    @property
    def capture(self) -> str:
        return MARKET_TIMING


def cross_market_value(first: Price, later: Price) -> CrossMarketValue | None:
    """The trade between two markets' prices of one zone and period; None when it is not a real
    trade (the later market closes before the earlier one's results, or does not trade the period)."""
    if first.zone != later.zone or first.delivery_start != later.delivery_start:
        raise ValidationError("cross-market values compare one zone and one period")
    if first.resolution != later.resolution:
        raise ValidationError(
            f"{first.zone}: {first.market.value} is {first.resolution.iso}, {later.market.value} "
            f"{later.resolution.iso}: compare equal periods"
        )
    if not sequential(first.market, later.market, first.delivery_start):
        return None
    return CrossMarketValue(first.zone, first.delivery_start, first, later)
