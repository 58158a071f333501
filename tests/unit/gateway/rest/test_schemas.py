"""One definition per response shape: every example fits its own model, and a live and a stored
answer of the same shape (a price, an opportunity) carry the same fields, laid out by the model."""

from __future__ import annotations

import inspect
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from inthegrid.domain.opportunities import EventKind
from inthegrid.gateway.rest import history_schemas, schemas
from inthegrid.gateway.rest.schemas import OpportunityPublic, PricePublic
from inthegrid.gateway.rest.shaping import ShapeError, shaped
from inthegrid.gateway.rest.views import opportunity_item, price_item
from inthegrid.gateway.storage.history import opportunity_row_item, price_row_item
from tests.unit.gateway.live.test_state import T0, event, price

MODELS = [
    model
    for module in (schemas, history_schemas)
    for _, model in inspect.getmembers(module, inspect.isclass)
    if issubclass(model, BaseModel) and model.__module__ == module.__name__
]


def test_the_walk_found_the_response_models() -> None:
    names = {m.__name__ for m in MODELS}
    assert {"PricePublic", "PriceHistoryPublic", "OpportunityPublic", "CapacitiesPublic"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_example_validates_against_its_own_model(model: type[BaseModel]) -> None:
    examples = model.model_json_schema().get("examples", [])
    if model.__name__ != "HopPublic":  # documented inside every valuation's example instead
        assert examples, f"{model.__name__} has no example"
    for example in examples:
        parsed = model.model_validate(example)
        # Nothing in the example is silently dropped: it names only fields the model defines.
        assert set(example) <= set(model.model_fields), sorted(set(example) - set(model.model_fields))
        assert parsed.model_dump(mode="json").keys() >= example.keys()


def stored_price_row() -> dict[str, Any]:
    p = price("DE-LU", 75.5)
    return {
        "zone": p.zone,
        "market": p.market.value,
        "resolution_minutes": int(p.resolution),
        "delivery_start": p.delivery_start,
        "price_eur_mwh": Decimal("75.5"),
        "source": p.source,
        "published_at": p.published_at,
        "received_at": T0,
    }


def stored_opportunity_row() -> dict[str, Any]:
    value = event(EventKind.OPENED, 3).value
    assert value is not None
    return {
        "rule": "proof-of-concept",
        "pair_a": "DE-LU",
        "pair_b": "FR",
        "market": "day_ahead",
        "delivery_start": T0,
        "status": "open",
        "revision": 3,
        "buy_zone": value.buy_zone,
        "sell_zone": value.sell_zone,
        "buy_price": Decimal(str(value.buy_price)),
        "sell_price": Decimal(str(value.sell_price)),
        "spread": Decimal(str(value.spread_eur_mwh)),
        "net_eur_mwh": Decimal(str(value.net_eur_mwh)),
        "cost_eur_mwh": Decimal(str(value.cost_eur_mwh)),
        "loss_factor": Decimal("0"),
        "path": list(value.path),
        "capacity_mw": Decimal(str(value.capacity_mw)),
        "profit_eur": None,
        "period_hours": Decimal("0.25"),
        "coupled": value.coupled,
        "resolution_minutes": 15,
        "first_detected_at": T0 - timedelta(minutes=5),
        "detected_at": T0,
        "strategy": value.strategy,
    }


def test_a_live_and_a_stored_price_have_one_shape() -> None:
    live, stored = price_item(price("DE-LU", 75.5)), price_row_item(stored_price_row())
    assert list(live) == list(stored) == list(PricePublic.model_fields)
    assert PricePublic.model_validate(live) and PricePublic.model_validate(stored)
    same = {k for k in live if k != "received_at"}
    assert {k: live[k] for k in same} == {k: stored[k] for k in same}
    assert (live["received_at"], stored["received_at"]) == (None, "2026-01-15T10:00:00Z")


def test_a_live_and_a_stored_opportunity_have_one_shape_and_one_id() -> None:
    live = opportunity_item(event(EventKind.OPENED, 3, detected=T0), sequence=7)
    stored = opportunity_row_item(stored_opportunity_row())
    assert list(live) == list(stored) == list(OpportunityPublic.model_fields)
    assert OpportunityPublic.model_validate(live) and OpportunityPublic.model_validate(stored)
    assert stored["id"] == live["id"] == "proof-of-concept/DE-LU/FR/day_ahead/20260115T1000Z"
    for field in ("market_pair", "spread", "net_opportunity", "low_market", "high_market", "strategy"):
        assert stored[field] == live[field], field


def test_shaping_refuses_a_field_the_model_does_not_define_or_a_missing_required_one() -> None:
    item = price_item(price("FR", 80.0))
    with pytest.raises(ShapeError, match="no field"):
        shaped(PricePublic, {**item, "price_eur": 80.0})
    del item["price"]
    with pytest.raises(ShapeError, match="requires 'price'"):
        shaped(PricePublic, item)


def test_shaped_defaults_are_not_shared_between_answers() -> None:
    first = opportunity_item(event(EventKind.CLOSED, 2))
    first["hops"].append("x")
    assert opportunity_item(event(EventKind.CLOSED, 2))["hops"] == []
