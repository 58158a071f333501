"""Rows the recorder COPYs: one value per column, in column order, rounded as the columns store them
(numeric columns as decimal strings at their scale)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from inthegrid.domain.capture import capture_of
from inthegrid.domain.economics import PairValue, round2
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Market, Resolution, make_price
from inthegrid.recorder.rows import EVENT_COLUMNS, PRICE_COLUMNS, build_event_row, build_price_row, cents

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_a_price_row_follows_the_column_order() -> None:
    price = make_price(
        "DE",
        T0,
        61.2349,
        resolution="PT15M",
        market="intraday",
        source="entsoe",
        published_at="2026-02-28T12:00Z",
    )
    row = dict(zip(PRICE_COLUMNS, build_price_row(price, 42), strict=True))
    assert row == {
        "zone": "DE-LU",
        "market": "intraday",
        "resolution_minutes": 15,
        "delivery_start": T0,
        "price_eur_mwh": "61.23",
        "source": "entsoe",
        "published_at": datetime(2026, 2, 28, 12, tzinfo=UTC),
        "stream_seq": 42,
    }


def _event(value: PairValue | None, kind: EventKind = EventKind.OPENED) -> OpportunityEvent:
    return OpportunityEvent(
        kind=kind,
        rule="poc",
        market=Market.DAY_AHEAD,
        pair=("DE-LU", "FR"),
        delivery_start=T0,
        resolution=Resolution.PT60M,
        revision=2,
        value=value,
        detected_at=T0,
    )


def test_an_event_row_carries_the_pair_value_and_its_derived_figures() -> None:
    value = PairValue(
        pair=("DE-LU", "FR"),
        buy_zone="FR",
        sell_zone="DE-LU",
        buy_price=40.0,
        sell_price=95.5,
        net_eur_mwh=50.123,
        cost_eur_mwh=2.34567,
        loss_factor=0.02,
        path=("FR", "CH", "DE-LU"),
        capacity_mw=250.0,
        period_hours=1.0,
        capture=capture_of(("FR", "CH", "DE-LU"), T0),
    )
    row = dict(zip(EVENT_COLUMNS, build_event_row(_event(value), 7), strict=True))
    assert row["pair_a"] == "DE-LU" and row["pair_b"] == "FR" and row["kind"] == "opened"
    assert row["spread"] == "55.50" and value.spread_eur_mwh == 55.5
    # Both hops are explicit Swiss borders: a capturable value, so the profit is stored.
    assert row["profit_eur"] == "12530.75" and value.profit_eur == 12530.75  # 50.123 x 250
    assert row["strategy"] == value.strategy and "via CH" in row["strategy"]
    assert row["net_eur_mwh"] == "50.12" and row["cost_eur_mwh"] == "2.3457"
    assert row["path"] == ["FR", "CH", "DE-LU"] and row["coupled"] is False
    assert row["resolution_minutes"] == 60 and row["stream_seq"] == 7


def test_a_closed_event_without_a_value_leaves_the_value_columns_empty() -> None:
    row = dict(zip(EVENT_COLUMNS, build_event_row(_event(None, EventKind.CLOSED), 9), strict=True))
    assert row["kind"] == "closed" and row["revision"] == 2
    value_columns = EVENT_COLUMNS[EVENT_COLUMNS.index("buy_zone") : EVENT_COLUMNS.index("resolution_minutes")]
    assert all(row[c] is None for c in value_columns) and row["strategy"] is None


def test_decimal_strings_hold_what_the_column_stored_from_the_rounded_float() -> None:
    # Before: round(x, 2) went to PostgreSQL as a float, whose numeric(…,2) input rounds the float's exact
    # binary expansion half away from zero. The string must name that same value, ties included.
    samples = [0.125, 0.375, 2.675, 1.005, -0.125, -2.675, 61.2349, 99999.995, 1e-9, -0.004, 0.0]
    rng = random.Random(14)
    samples += [rng.uniform(-500, 3000) for _ in range(20_000)]
    for x in samples:
        stored = Decimal(round(x, 2)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert Decimal(cents(x)) == stored, x
        assert Decimal(cents(round2(x))) == Decimal(round2(x)).quantize(Decimal("0.01"), ROUND_HALF_UP), x
