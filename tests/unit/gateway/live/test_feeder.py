"""The gateway's bus decoding: a price counts only on its own zone's subject, single or batched."""

from __future__ import annotations

from datetime import UTC, datetime

from inthegrid.domain.batch_codec import encode_price_batch
from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import DEFAULT_LIMITS, make_price
from inthegrid.gateway.live.feeder import LiveFeeder
from inthegrid.gateway.live.state import LiveState
from inthegrid.gateway.metrics import LIVE_MESSAGES
from inthegrid.gateway.stream.channels import Channel
from inthegrid.platform.bus import PRICES_STREAM, price_subject

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
FR = make_price("FR", "2026-01-15T11:00Z", 80, source="simulator", published_at=NOW)
FR_SUBJECT = price_subject("day_ahead", "FR")
DE_SUBJECT = price_subject("day_ahead", "DE-LU")


def _feeder() -> LiveFeeder:
    def channel(name: str) -> Channel:
        return Channel(name, ring_size=100, queue_size=10, hopeless_seconds=30)

    return LiveFeeder(LiveState(), channel("prices"), channel("opportunities"), DEFAULT_LIMITS)


def _invalid() -> float:
    return LIVE_MESSAGES.labels(PRICES_STREAM, "invalid")._value.get()


def test_a_price_on_its_own_subject_is_served() -> None:
    feeder = _feeder()
    assert [e.zones for e in feeder.price_from(7, FR_SUBJECT, encode_price(FR))] == [("FR",)]
    assert len(feeder.price_from(8, FR_SUBJECT, encode_price_batch([FR]))) == 1


def test_a_price_on_another_zones_subject_is_refused_and_counted() -> None:
    feeder = _feeder()
    before = _invalid()
    assert feeder.price_from(7, DE_SUBJECT, encode_price(FR)) == []
    assert feeder.price_from(8, DE_SUBJECT, encode_price_batch([FR])) == []
    assert _invalid() == before + 2
    feeder._on_price(9, DE_SUBJECT, encode_price(FR))  # the live consumer's path
    assert feeder.live.latest_prices() == []
