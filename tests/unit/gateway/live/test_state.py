"""Live state and the pure response builders of the gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from inthegrid.domain.economics import value_pair
from inthegrid.domain.opportunities import EventKind, OpportunityBook, OpportunityEvent
from inthegrid.domain.prices import Market, Price, Resolution, make_price
from inthegrid.domain.rules import CompiledRule, compile_rule, parse_rule_spec, proof_of_concept_rule
from inthegrid.gateway.live.state import LiveState
from inthegrid.gateway.rest.views import (
    iso_z,
    open_opportunities,
    open_opportunities_document,
    opportunity_item,
    price_item,
    spread_rows,
)

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def open_opportunity_items(
    live: LiveState, now: datetime, max_age: timedelta, **filters: Any
) -> list[dict[str, Any]]:
    """The open opportunities as response items, one by one (what the joined answer must equal)."""
    return [opportunity_item(o.event, o.sequence) for o in open_opportunities(live, now, max_age, **filters)]


def price(zone: str, eur: float, start: datetime = T0, market: str = "day_ahead") -> Price:
    return make_price(
        zone,
        start,
        eur,
        resolution="PT15M",
        market=market,
        source="test",
        published_at=T0 - timedelta(hours=20),
    )


def event(
    kind: EventKind,
    revision: int,
    buy: float = 60.0,
    sell: float = 80.0,
    *,
    rule: CompiledRule | None = None,
    detected: datetime | None = None,
    start: datetime = T0,
) -> OpportunityEvent:
    compiled = rule or proof_of_concept_rule()
    model = compiled.pairs[("DE-LU", "FR")]
    value = value_pair(model, buy, sell, 0.25) if kind is not EventKind.CLOSED else None
    return OpportunityEvent(
        kind,
        compiled.name,
        Market.DAY_AHEAD,
        ("DE-LU", "FR"),
        start,
        Resolution.PT15M,
        revision,
        value,
        detected or datetime.now(UTC),
    )


def test_iso_z_uses_z_suffix_in_utc() -> None:
    assert iso_z(datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) == "2026-01-01T12:00:00Z"


def test_latest_price_is_the_newest_delivery_period_per_zone_and_market() -> None:
    live = LiveState()
    live.apply_price(price("DE", 70.0, T0 + timedelta(minutes=15)))
    live.apply_price(price("DE", 60.0, T0))  # older period arriving late does not replace the newest
    live.apply_price(price("FR", 50.0, T0, market="intraday"))
    latest = live.latest_prices()
    assert [(p.zone, p.market.value, p.eur_mwh) for p in latest] == [
        ("DE-LU", "day_ahead", 70.0),
        ("FR", "intraday", 50.0),
    ]
    assert [p.zone for p in live.latest_prices(Market.INTRADAY)] == ["FR"]


def test_price_item_keeps_the_proof_of_concept_fields() -> None:
    item = price_item(price("DE", 75.5))
    assert item["market"] == "DE-LU" and item["price"] == 75.5 and item["timestamp"] == "2026-01-15T10:00:00Z"
    assert item["delivery_end"] == "2026-01-15T10:15:00Z" and item["eic"] == "10Y1001A1001A82H"
    assert item["resolution"] == "PT15M" and item["market_type"] == "day_ahead"


def test_recent_periods_are_bounded() -> None:
    live = LiveState(recent_periods=3)
    for i in range(10):
        live.apply_price(price("FR", float(i), T0 + timedelta(minutes=15 * i)))
    periods = live.periods(Market.DAY_AHEAD, "FR")
    # Trimmed in steps (at most a quarter of the window, at least one period, above the bound).
    assert 3 <= len(periods) <= 4 and max(periods)[0] == T0 + timedelta(minutes=15 * 9)
    assert min(periods)[0] >= T0 + timedelta(minutes=15 * 6)


def test_open_opportunities_are_bounded_keeping_the_newest_periods() -> None:
    live = LiveState(max_opportunities=10)
    rule = proof_of_concept_rule()
    for i in range(40):
        start = T0 + timedelta(minutes=15 * i)
        book = OpportunityBook(rule.name, Market.DAY_AHEAD)
        value = value_pair(rule.pairs[("DE-LU", "FR")], 60.0, 80.0, 0.25)
        event = book.observe(("DE-LU", "FR"), start, Resolution.PT15M, value, True, start)
        live.apply_event(event, i + 1)
    kept = live.opportunities()
    assert 10 <= len(kept) <= 11
    assert max(o.event.delivery_start for o in kept) == T0 + timedelta(minutes=15 * 39)


def test_spreads_align_pairs_on_the_newest_common_period() -> None:
    live = LiveState()
    live.set_rule("proof-of-concept", proof_of_concept_rule())
    live.apply_price(price("DE", 60.0, T0))
    live.apply_price(price("FR", 80.0, T0))
    live.apply_price(price("DE", 10.0, T0 + timedelta(minutes=15)))  # FR has no price for this period yet
    rows = {r["market_pair"]: r for r in spread_rows(live)}
    assert len(rows) == 10
    de_fr = rows["DE-LU-FR"]
    assert de_fr["delivery_start"] == "2026-01-15T10:00:00Z"
    assert (de_fr["buy_zone"], de_fr["sell_zone"], de_fr["spread"], de_fr["net_eur_mwh"]) == (
        "DE-LU",
        "FR",
        20.0,
        17.5,
    )
    assert (
        de_fr["is_opportunity"] is True
        and de_fr["strategy"] == "Buy in DE-LU at €60.00, sell in FR at €80.00"
    )
    assert (
        rows["AT-BE"]["net_eur_mwh"] is None
        and "no day_ahead price yet for AT, BE" in rows["AT-BE"]["reason"]
    )


def test_spreads_without_a_route_give_a_reason() -> None:
    spec = parse_rule_spec({"pairs": [["ES", "DE-LU"]], "costModel": {"type": "border"}, "paths": "direct"})
    live = LiveState()
    live.set_rule("iberia", compile_rule("iberia", spec))
    live.apply_price(price("ES", 40.0))
    live.apply_price(price("DE", 90.0))
    (row,) = spread_rows(live, "iberia")
    assert row["net_eur_mwh"] is None and "share no interconnector" in row["reason"]
    assert row["delivery_start"] == "2026-01-15T10:00:00Z"


def test_open_opportunities_follow_revisions_and_closing() -> None:
    live = LiveState()
    now = datetime.now(UTC)
    live.apply_event(event(EventKind.OPENED, 1), 10)
    live.apply_event(event(EventKind.UPDATED, 2, 50.0, 80.0), 11)
    live.apply_event(event(EventKind.OPENED, 1, 70.0, 71.0), 9)  # a stale revision changes nothing
    (item,) = open_opportunity_items(live, now, timedelta(minutes=5))
    assert item["revision"] == 2 and item["low_price"] == 50.0 and item["net_opportunity"] == 27.5
    assert item["market_pair"] == "DE-LU-FR" and item["sequence"] == 11 and item["status"] == "open"
    live.apply_event(event(EventKind.CLOSED, 3), 12)
    assert open_opportunity_items(live, now, timedelta(minutes=5)) == []


def test_open_opportunities_are_recent_only_and_best_first() -> None:
    live = LiveState()
    now = datetime.now(UTC)
    live.apply_event(event(EventKind.OPENED, 1, 60.0, 70.0, start=T0), 1)
    live.apply_event(event(EventKind.OPENED, 1, 60.0, 90.0, start=T0 + timedelta(minutes=15)), 2)
    live.apply_event(
        event(
            EventKind.OPENED,
            1,
            0.0,
            200.0,
            start=T0 + timedelta(minutes=30),
            detected=now - timedelta(minutes=6),
        ),
        3,
    )
    items = open_opportunity_items(live, now, timedelta(minutes=5))
    assert [i["net_opportunity"] for i in items] == [27.5, 7.5]
    assert open_opportunity_items(live, now, timedelta(minutes=5), rule="other") == []
    assert live.forget_opportunities_before(now - timedelta(minutes=1)) == 1


def test_opportunities_document_is_the_json_of_its_items_byte_for_byte() -> None:
    # The answer is joined from items rendered once per event; it must stay exactly what dumping
    # the whole document gives, through updates, closures, stale revisions and filters.
    live = LiveState()
    now = datetime.now(UTC)
    age = timedelta(minutes=5)

    def expected(**filters: object) -> bytes:
        items = open_opportunity_items(live, now, age, **filters)
        return orjson.dumps({"status": "success", "count": len(items), "opportunities": items})

    assert open_opportunities_document(live, now, age) == expected()
    for i in range(40):
        live.apply_event(
            event(EventKind.OPENED, 1, 50.0 + i % 7, 90.0, start=T0 + timedelta(minutes=15 * i)), i
        )
    first = open_opportunities_document(live, now, age)
    assert first == expected() and orjson.loads(first)["count"] == 40
    for i in range(0, 40, 3):
        start = T0 + timedelta(minutes=15 * i)
        live.apply_event(event(EventKind.UPDATED, 2, 10.0, 90.0 + i, start=start), 100 + i)
    for i in range(1, 40, 5):
        live.apply_event(event(EventKind.CLOSED, 3, start=T0 + timedelta(minutes=15 * i)), 200 + i)
    live.apply_event(event(EventKind.OPENED, 1, 80.0, 81.0), 300)  # stale: changes nothing
    again = open_opportunities_document(live, now, age)
    assert again != first and again == expected()
    assert open_opportunities_document(live, now, age, rule="other") == expected(rule="other")
    assert open_opportunities_document(live, now, age, pair=("DE-LU", "FR")) == expected(pair=("DE-LU", "FR"))


def test_an_opportunity_is_rendered_once_per_event_and_only_while_it_is_held() -> None:
    live = LiveState(max_opportunities=50)
    rendered: list[int] = []

    def render(o: object) -> bytes:
        rendered.append(1)
        return b"x"

    def render_all() -> None:
        for o in live.opportunities():
            live.rendered(o, render)

    for i in range(10):
        live.apply_event(event(EventKind.OPENED, 1, start=T0 + timedelta(minutes=15 * i)), i)
    for _ in range(3):
        render_all()
    assert len(rendered) == 10 and live.rendered_size == 10
    live.apply_event(event(EventKind.UPDATED, 2, 10.0, 90.0), 50)  # a new event of one of them
    render_all()
    assert len(rendered) == 11
    # Closed, trimmed past max_opportunities, or forgotten: no rendering outlives its opportunity.
    for i in range(10, 2_000):
        start = T0 + timedelta(minutes=15 * i)
        live.apply_event(event(EventKind.OPENED, 1, start=start), i)
        render_all()
        if i % 2:
            live.apply_event(event(EventKind.CLOSED, 2, start=start), i)
        assert live.rendered_size <= len(live.opportunities())
    assert live.forget_opportunities_before(datetime.now(UTC) + timedelta(minutes=1)) > 0
    assert live.rendered_size == 0
    # An opportunity no longer held is rendered for the answer in hand but not kept.
    live.apply_event(event(EventKind.OPENED, 1), 3_000)
    (gone,) = live.opportunities()
    live.apply_event(event(EventKind.CLOSED, 2), 3_001)
    live.rendered(gone, render)
    assert live.rendered_size == 0


def test_cache_builds_once_per_version() -> None:
    live = LiveState()
    calls = []
    for _ in range(3):
        live.cached("k", live.price_version, lambda: calls.append(1))
    live.apply_price(price("FR", 1.0))
    live.cached("k", live.price_version, lambda: calls.append(1))
    assert len(calls) == 2


def test_cache_is_bounded_whatever_keys_clients_send() -> None:
    # Keys come from query values (free-text rule names, zone sets): a fuzzed stream of them must
    # not grow the gateway's memory; the common queries stay cached.
    from inthegrid.gateway.live.state import MAX_CACHED

    live = LiveState()
    calls = []
    for i in range(MAX_CACHED * 4):
        live.cached(("spreads", "common"), live.price_version, lambda: calls.append("common"))
        live.cached(("spreads", f"rule-{i}"), live.price_version, lambda: calls.append("other"))
    assert live.cache_size == MAX_CACHED
    assert calls.count("common") == 1
