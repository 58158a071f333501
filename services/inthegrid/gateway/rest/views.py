"""Pure builders of response items: a price, an opportunity, a pair's latest value, a zone, a border.

Each item is laid out by its response model in ``schemas`` (the one definition of the shape, which
docs/api-contract.md is generated from); stored rows (storage/history.py) use the same models.
All times are ISO-8601 UTC with a Z suffix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from inthegrid.domain.capture import capture_fields, capture_of, empty_capture_fields
from inthegrid.domain.economics import PairValue, is_opportunity, value_pair
from inthegrid.domain.grid import Border
from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.domain.periods import pair_prices
from inthegrid.domain.prices import Price, Resolution
from inthegrid.domain.rules import CompiledRule, PairModel
from inthegrid.domain.zones import ZONES, Zone, pair_label
from inthegrid.gateway.live.state import LiveOpportunity, LiveState
from inthegrid.gateway.rest.schemas import (
    BorderPublic,
    OpportunityPublic,
    PricePublic,
    SpreadPublic,
    ZonePublic,
)
from inthegrid.gateway.rest.shaping import shaped


def iso_z(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z suffix (what every time field of the API uses)."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def market_pair(pair: tuple[str, str] | list[str]) -> str:
    """The proof of concept's pair name: the two zones joined by a hyphen ("DE-LU-FR")."""
    return f"{pair[0]}-{pair[1]}"


def price_item(price: Price) -> dict[str, Any]:
    zone = ZONES.get(price.zone)
    return shaped(
        PricePublic,
        {
            "market": price.zone,
            "price": price.eur_mwh,
            "timestamp": iso_z(price.delivery_start),
            "zone": price.zone,
            "eic": zone.eic if zone else None,
            "delivery_start": iso_z(price.delivery_start),
            "delivery_end": iso_z(price.delivery_end),
            "resolution": price.resolution.iso,
            "market_type": price.market.value,
            "source": price.source,
            "published_at": iso_z(price.published_at),
        },
    )


def _value_fields(value: PairValue) -> dict[str, Any]:
    return {
        "spread": value.spread_eur_mwh,
        "net_opportunity": value.net_eur_mwh,
        "low_market": value.buy_zone,
        "low_price": value.buy_price,
        "high_market": value.sell_zone,
        "high_price": value.sell_price,
        "transmission_cost": value.cost_eur_mwh,
        "strategy": value.strategy,
        "path": list(value.path),
        "capacity_mw": value.capacity_mw,
        # Which capacity figures capacity_mw rests on (docs/markets.md); None where not recorded.
        "capacity_source": value.capacity_source or None,
        "profit_eur": value.profit_eur,
        "loss_factor": value.loss_factor,
        "coupled": value.coupled,
        **valuation_fields(value),
    }


def valuation_fields(value: PairValue) -> dict[str, Any]:
    """What a value is and how it could be captured (docs/economics.md)."""
    return {
        "value_eur": value.value_eur,
        "congestion_value_eur": value.congestion_value_eur,
        **capture_fields(value.capture),
    }


def empty_valuation_fields() -> dict[str, Any]:
    return {"value_eur": None, "congestion_value_eur": None, **empty_capture_fields()}


def opportunity_item(event: OpportunityEvent, sequence: int | None = None) -> dict[str, Any]:
    """An opportunity as the API shows it; closed events carry the last known value as null."""
    item: dict[str, Any] = {
        "market_pair": market_pair(event.pair),
        "spread": None,
        "net_opportunity": None,
        "low_market": None,
        "low_price": None,
        "high_market": None,
        "high_price": None,
        "transmission_cost": None,
        "strategy": None,
        "id": event.opportunity_id,
        "rule": event.rule,
        "pair": list(event.pair),
        "market": event.market.value,
        "delivery_start": iso_z(event.delivery_start),
        "delivery_end": iso_z(event.delivery_end),
        "resolution": event.resolution.iso,
        "path": [],
        "capacity_mw": None,
        "capacity_source": None,
        "profit_eur": None,
        "loss_factor": None,
        "coupled": None,
        "revision": event.revision,
        "kind": event.kind.value,
        "status": "closed" if event.kind.value == "closed" else "open",
        "detected_at": iso_z(event.detected_at),
        "sequence": sequence,
        **empty_valuation_fields(),
    }
    if event.value is not None:
        item.update(_value_fields(event.value))
    return shaped(OpportunityPublic, item)


def open_opportunities(
    live: LiveState,
    now: datetime,
    max_age: timedelta,
    *,
    rule: str | None = None,
    pair: tuple[str, str] | None = None,
) -> list[LiveOpportunity]:
    """Open opportunities whose latest event is younger than ``max_age``, best net value first."""
    cutoff = now - max_age
    chosen: list[LiveOpportunity] = [
        o
        for o in live.opportunities()
        if o.event.detected_at >= cutoff
        and (rule is None or o.event.rule == rule)
        and (pair is None or o.event.pair == pair)
    ]
    chosen.sort(
        key=lambda o: (-(o.event.value.net_eur_mwh if o.event.value else 0.0), o.event.opportunity_id)
    )
    return chosen


def _rendered_item(opportunity: LiveOpportunity) -> bytes:
    return orjson.dumps(opportunity_item(opportunity.event, opportunity.sequence))


def open_opportunities_document(
    live: LiveState,
    now: datetime,
    max_age: timedelta,
    *,
    rule: str | None = None,
    pair: tuple[str, str] | None = None,
) -> bytes:
    """The proof of concept's answer, ``{"status", "count", "opportunities"}``, as JSON: the bytes
    ``orjson.dumps`` gives for it, joined from items rendered once per event (``LiveState.rendered``)."""
    chosen = open_opportunities(live, now, max_age, rule=rule, pair=pair)
    items = b",".join([live.rendered(o, _rendered_item) for o in chosen])
    return b'{"status":"success","count":%d,"opportunities":[%b]}' % (len(chosen), items)


def _newest_common_period(
    a: Mapping[tuple[datetime, Resolution], Price], b: Mapping[tuple[datetime, Resolution], Price]
) -> tuple[tuple[datetime, Resolution], Price, Price] | None:
    """The newest period both zones have a price for, pairing an hourly price with the quarter-hours
    of its hour exactly as the calculator does (domain.periods)."""
    for key in sorted(a.keys() | b.keys(), reverse=True):
        both = pair_prices(lambda s, r: a.get((s, r)), lambda s, r: b.get((s, r)), *key)
        if both is not None:
            return key, both[0], both[1]
    return None


def spread_row(rule: CompiledRule, model: PairModel, live: LiveState) -> dict[str, Any]:
    """One pair of one rule valued at the newest delivery period where both zones have a price."""
    return shaped(SpreadPublic, _spread_values(rule, model, live))


def _spread_values(rule: CompiledRule, model: PairModel, live: LiveState) -> dict[str, Any]:
    a, b = model.pair
    row: dict[str, Any] = {
        "rule": rule.name,
        "pair": [a, b],
        "market_pair": market_pair(model.pair),
        "label": pair_label(model.pair),
        "market": rule.market.value,
        "delivery_start": None,
        "delivery_end": None,
        "buy_zone": None,
        "sell_zone": None,
        "buy_price": None,
        "sell_price": None,
        "spread": None,
        "net_eur_mwh": None,
        "cost_eur_mwh": None,
        "loss_factor": None,
        "profit_eur": None,
        "path": [],
        "capacity_mw": None,
        "coupled": None,
        "is_opportunity": False,
        "strategy": None,
        "reason": None,
        **empty_valuation_fields(),
    }
    periods_a, periods_b = live.periods(rule.market, a), live.periods(rule.market, b)
    missing = [z for z, periods in ((a, periods_a), (b, periods_b)) if not periods]
    if missing:
        row["reason"] = f"no {rule.market.value} price yet for {', '.join(missing)}"
        return row
    common = _newest_common_period(periods_a, periods_b)
    if common is None:
        row["reason"] = f"{a} and {b} have no delivery period in common yet"
        return row
    (start, resolution), price_a, price_b = common
    row["delivery_start"], row["delivery_end"] = iso_z(start), iso_z(start + resolution.delta)
    value = value_pair(model, price_a.eur_mwh, price_b.eur_mwh, resolution.hours, start)
    if value is None:
        row["reason"] = model.unreachable_reason or f"no route between {a} and {b}"
        return row
    row.update(
        {
            "buy_zone": value.buy_zone,
            "sell_zone": value.sell_zone,
            "buy_price": value.buy_price,
            "sell_price": value.sell_price,
            "spread": value.spread_eur_mwh,
            "net_eur_mwh": value.net_eur_mwh,
            "cost_eur_mwh": value.cost_eur_mwh,
            "loss_factor": value.loss_factor,
            "profit_eur": value.profit_eur,
            "path": list(value.path),
            "capacity_mw": value.capacity_mw,
            "coupled": value.coupled,
            "is_opportunity": is_opportunity(rule, value),
            "strategy": value.strategy,
            **valuation_fields(value),
        }
    )
    return row


def spread_rows(live: LiveState, rule: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for name, compiled in live.rules().items():
        if rule is not None and name != rule:
            continue
        for key in sorted(compiled.pairs):
            rows.append(spread_row(compiled, compiled.pairs[key], live))
    return rows


def zone_item(zone: Zone) -> dict[str, Any]:
    return shaped(
        ZonePublic, {"code": zone.code, "eic": zone.eic, "name": zone.name, "timezone": zone.timezone}
    )


def border_item(border: Border) -> dict[str, Any]:
    return shaped(
        BorderPublic,
        {
            "zones": list(border.key),
            "technology": border.technology.value,
            "capacity_mw": border.capacity_mw,
            "loss_factor": border.loss_factor,
            "allocation": border.allocation.value,
            "transmission_cost_eur_mwh": border.transmission_cost_eur_mwh,
            "capacity_price_eur_mwh": border.capacity_price_eur_mwh,
            "name": border.name,
            # Today's market facts for the border (docs/economics.md): how its day-ahead spread is captured.
            **_border_facts(border),
        },
    )


def _border_facts(border: Border) -> dict[str, Any]:
    (hop,) = capture_of(border.key).hops
    return {
        "capture": hop.capture.label,
        "long_term_right": hop.long_term_right.value if hop.long_term_right else None,
        "flow_based": hop.flow_based,
    }
