"""The plausible time window of prices and events: what a schema-valid message may claim about time.

A message with a delivery start in 9999 is well-formed JSON but not a price anyone publishes: taken
as the newest period it made every real price look too old, and ``9999-12-31T23:45Z + 15 min`` does
not fit in a ``datetime``. Every entry point (feeds, bus decoders, REST filters, the database reader)
checks times against one ``TimeWindow``:

- delivery starts no earlier than ``earliest_delivery`` (the market's data era: ENTSO-E's
  transparency data and today's coupled day-ahead market begin in 2015);
- delivery starts no later than ``max_lead`` after now (a day-ahead auction clears at most about
  36 hours ahead; the default is far wider so a fast simulated clock fits, see docs/robustness.md);
- a publication (or detection) time is not after now plus ``max_clock_skew`` (a time in the future
  would beat every later correction).

Pure: ``now`` is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.domain.prices import Price
from inthegrid.errors import ImplausibleTimeError

EARLIEST_DELIVERY = datetime(2015, 1, 1, tzinfo=UTC)
DEFAULT_MAX_LEAD = timedelta(days=400)
DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    earliest_delivery: datetime = EARLIEST_DELIVERY
    max_lead: timedelta = DEFAULT_MAX_LEAD
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW

    def fits(self, start: datetime, known_at: datetime, now: datetime) -> bool:
        """Both checks below at once, for the common case; they say what is wrong."""
        return (
            self.earliest_delivery <= start <= now + self.max_lead and known_at <= now + self.max_clock_skew
        )

    def bounds(self, now: datetime) -> tuple[datetime, datetime, datetime]:
        """``fits`` as three bounds for a batch checked at one ``now``: earliest and latest delivery
        start, and the latest publication (or detection) time."""
        return self.earliest_delivery, now + self.max_lead, now + self.max_clock_skew

    def latest_delivery(self, now: datetime) -> datetime:
        return now + self.max_lead

    def check_delivery(self, what: str, start: datetime, now: datetime) -> None:
        if start < self.earliest_delivery:
            raise ImplausibleTimeError(
                f"{what} delivery start {start.isoformat()} is before the earliest plausible "
                f"{self.earliest_delivery.isoformat()}"
            )
        if start > self.latest_delivery(now):
            raise ImplausibleTimeError(
                f"{what} delivery start {start.isoformat()} is more than {_days(self.max_lead)} "
                f"after now ({now.isoformat()})"
            )

    def check_known_at(self, what: str, field: str, moment: datetime, now: datetime) -> None:
        if moment > now + self.max_clock_skew:
            raise ImplausibleTimeError(
                f"{what} {field} {moment.isoformat()} is in the future (now {now.isoformat()})"
            )


# The checks below run for every item decoded: the message naming it is built only for a refusal.


def check_price(window: TimeWindow, price: Price, now: datetime) -> None:
    check_price_times(window, price.zone, price.source, price.delivery_start, price.published_at, now)


def check_price_times(
    window: TimeWindow, zone: str, source: str, start: datetime, published_at: datetime, now: datetime
) -> None:
    if window.fits(start, published_at, now):
        return
    what = f"price for {zone} from {source}"
    window.check_delivery(what, start, now)
    window.check_known_at(what, "published_at", published_at, now)


def check_event(window: TimeWindow, event: OpportunityEvent, now: datetime) -> None:
    if window.fits(event.delivery_start, event.detected_at, now):
        return
    what = f"event {event.opportunity_id}"
    window.check_delivery(what, event.delivery_start, now)
    window.check_known_at(what, "detected_at", event.detected_at, now)


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:g} days"


DEFAULT_WINDOW = TimeWindow()
