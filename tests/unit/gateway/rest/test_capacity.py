"""GET /api/borders/capacity: the latest published figure per border direction and kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inthegrid.domain.capacity import BorderQuantity, CapacityKind
from tests.unit.gateway.rest.test_routers import make_client

T = datetime(2026, 3, 19, 6, tzinfo=UTC)
H = timedelta(hours=1)


def test_latest_capacity_per_border_direction_and_kind() -> None:
    client, services = make_client()
    with client:
        assert client.get("/api/borders/capacity").json() == {"count": 0, "data": []}
        live = services.live
        live.apply_capacity(
            BorderQuantity("FR", "ES", T + H, T + 2 * H, 2914, CapacityKind.FORECAST, "a61.xml")
        )
        live.apply_capacity(BorderQuantity("FR", "ES", T, T + H, 3006, CapacityKind.FORECAST, "a61.xml"))
        live.apply_capacity(
            BorderQuantity("FR", "ES", T, T + H, 1000, CapacityKind.SCHEDULED, "a09.xml", "A05")
        )
        body = client.get("/api/borders/capacity").json()
    assert body["count"] == 2
    scheduled, forecast = body["data"]  # sorted by direction, then kind
    # The latest delivery start wins, not the last received.
    assert forecast == {
        "border": "FR->ES",
        "source": "FR",
        "target": "ES",
        "kind": "A61",
        "mw": 2914.0,
        "delivery_start": "2026-03-19T07:00:00Z",
        "delivery_end": "2026-03-19T08:00:00Z",
        "origin": "a61.xml",
        "contract": None,
        "static_capacity_mw": forecast["static_capacity_mw"],
    }
    assert forecast["static_capacity_mw"] > 0
    assert (scheduled["kind"], scheduled["mw"], scheduled["contract"]) == ("A09", 1000.0, "A05")


def test_opportunities_say_which_capacity_they_rest_on() -> None:
    from pathlib import Path

    from inthegrid.backtest.manifest import load_rule
    from inthegrid.calculator.state import CalculatorState
    from inthegrid.domain.prices import make_price
    from inthegrid.gateway.rest.views import opportunity_item

    rule = load_rule(Path(__file__).parents[3] / "fixtures" / "rules" / "de-ch-explicit.yaml")
    state = CalculatorState(rule)
    state.on_price(make_price("DE-LU", T, 50, source="t", published_at=T), T)
    (opened,) = state.on_price(make_price("CH", T, 90, source="t", published_at=T), T)
    assert opportunity_item(opened)["capacity_source"] == "static"
    (updated,) = state.on_capacity(BorderQuantity("DE-LU", "CH", T, T + H, 800, CapacityKind.OFFERED), T)
    item = opportunity_item(updated)
    assert (item["capacity_mw"], item["capacity_source"]) == (800, "DE-LU->CH:A31")
