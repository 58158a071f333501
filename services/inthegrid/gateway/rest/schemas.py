"""Response schemas (``XPublic`` items, ``XsPublic`` lists): the one definition of each answer's shape.

Handlers answer pre-serialised JSON (fast path), but every item is laid out by its model
(``shaping.shaped``: the model's fields, in its order, its defaults), live and stored answers alike;
the OpenAPI document, its examples and docs/api-contract.md are generated from these models, and
unit tests validate real responses and every example against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, WithJsonSchema

# Every time is an ISO-8601 UTC string with a Z suffix (views.iso_z), documented as a date-time.
UtcTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]

PRICE_EXAMPLE: dict[str, Any] = {
    "market": "DE-LU",
    "price": 75.5,
    "timestamp": "2026-01-15T10:00:00Z",
    "zone": "DE-LU",
    "eic": "10Y1001A1001A82H",
    "delivery_start": "2026-01-15T10:00:00Z",
    "delivery_end": "2026-01-15T10:15:00Z",
    "resolution": "PT15M",
    "market_type": "day_ahead",
    "source": "simulator",
    "published_at": "2026-01-14T12:45:00Z",
}
HOPS_EXAMPLE: list[dict[str, Any]] = [
    {
        "zones": ["DE-LU", "FR"],
        "interconnector": True,
        "allocation": "coupled",
        "capture": "congestion_income",
        "long_term_right": "FTR",
        "flow_based": "Core",
    }
]
# How the example's value could be captured (the same labels on every valuation shape).
CAPTURE_EXAMPLE: dict[str, Any] = {
    "coupled": True,
    "value_eur": 4.38,
    "congestion_value_eur": 5.0,
    "capture": "congestion_income",
    "capturable": False,
    "weakest_hop": ["DE-LU", "FR"],
    "hops": HOPS_EXAMPLE,
    "flow_based_approximation": True,
    "flow_based_regions": ["Core"],
}
OPPORTUNITY_EXAMPLE: dict[str, Any] = {
    "market_pair": "DE-LU-FR",
    "spread": 20.0,
    "net_opportunity": 17.5,
    "low_market": "DE-LU",
    "low_price": 60.0,
    "high_market": "FR",
    "high_price": 80.0,
    "transmission_cost": 2.5,
    "strategy": "Buy in DE-LU at €60.00, sell in FR at €80.00",
    "id": "proof-of-concept/DE-LU/FR/day_ahead/20260115T1000Z",
    "rule": "proof-of-concept",
    "pair": ["DE-LU", "FR"],
    "market": "day_ahead",
    "delivery_start": "2026-01-15T10:00:00Z",
    "delivery_end": "2026-01-15T10:15:00Z",
    "resolution": "PT15M",
    "path": ["DE-LU", "FR"],
    "capacity_mw": 1.0,
    "profit_eur": None,
    "loss_factor": 0.0,
    **CAPTURE_EXAMPLE,
    "revision": 1,
    "kind": "opened",
    "status": "open",
    "detected_at": "2026-01-15T09:59:58Z",
    "sequence": 42,
}
SPREAD_EXAMPLE: dict[str, Any] = {
    "rule": "proof-of-concept",
    "pair": ["DE-LU", "FR"],
    "market_pair": "DE-LU-FR",
    "label": "DE-LU/FR",
    "market": "day_ahead",
    "delivery_start": "2026-01-15T10:00:00Z",
    "delivery_end": "2026-01-15T10:15:00Z",
    "buy_zone": "DE-LU",
    "sell_zone": "FR",
    "buy_price": 60.0,
    "sell_price": 80.0,
    "spread": 20.0,
    "net_eur_mwh": 17.5,
    "cost_eur_mwh": 2.5,
    "loss_factor": 0.0,
    "profit_eur": None,
    "path": ["DE-LU", "FR"],
    "capacity_mw": 1.0,
    **CAPTURE_EXAMPLE,
    "is_opportunity": True,
    "strategy": "Buy in DE-LU at €60.00, sell in FR at €80.00",
    "reason": None,
}


def _example(value: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [value]})


# The history endpoints also answer ``format=csv``: documented so clients (and the fuzz test) know it.
CSV_CONTENT: dict[str, Any] = {
    "content": {"text/csv": {"schema": {"type": "string"}, "example": "zone,market_type,...\n"}}
}


class ErrorPublic(BaseModel):
    model_config = _example({"detail": "unknown market 'XX'; valid markets: AT, BE, CH, ..."})
    detail: Any


class PricePublic(BaseModel):
    model_config = _example(PRICE_EXAMPLE)
    market: str
    price: float
    timestamp: UtcTime
    zone: str
    eic: str | None
    delivery_start: UtcTime
    delivery_end: UtcTime
    resolution: str
    market_type: str
    source: str
    published_at: UtcTime | None
    received_at: UtcTime | None = None  # stored prices: when the recorder received it


class PricesPublic(BaseModel):
    model_config = _example({"status": "success", "count": 1, "prices": [PRICE_EXAMPLE]})
    status: Literal["success"]
    count: int
    prices: list[PricePublic]


class PriceHistoryPublic(PricesPublic):
    model_config = _example(
        {
            "status": "success",
            "market": "DE-LU",
            "count": 1,
            "limit": 100,
            "offset": 0,
            "prices": [{**PRICE_EXAMPLE, "received_at": "2026-01-14T12:45:01Z"}],
        }
    )
    market: str
    limit: int
    offset: int


class HopPublic(BaseModel):
    """One border of a path and how its capacity is allocated on the value's date."""

    zones: list[str]
    interconnector: bool
    allocation: Literal["coupled", "explicit", "none"]
    capture: Literal["congestion_income", "explicit_capacity", "none"]
    long_term_right: Literal["PTR", "FTR"] | None
    flow_based: str | None


class OpportunityPublic(BaseModel):
    model_config = _example(OPPORTUNITY_EXAMPLE)
    market_pair: str
    spread: float | None
    net_opportunity: float | None
    low_market: str | None
    low_price: float | None
    high_market: str | None
    high_price: float | None
    transmission_cost: float | None
    strategy: str | None
    id: str
    rule: str
    pair: list[str]
    market: str
    delivery_start: UtcTime
    delivery_end: UtcTime
    resolution: str
    path: list[str]
    capacity_mw: float | None
    profit_eur: float | None
    loss_factor: float | None
    coupled: bool | None
    revision: int
    status: Literal["open", "closed"]
    detected_at: UtcTime
    kind: Literal["opened", "updated", "closed"] | None = None  # live only: the latest event's kind
    sequence: int | None = None  # live only: the event's position (its SSE id)
    first_detected_at: UtcTime | None = None  # stored only
    value_eur: float | None = None
    congestion_value_eur: float | None = None
    capture: Literal["congestion_income", "explicit_capacity", "none"] | None = None
    capturable: bool | None = None
    weakest_hop: list[str] | None = None
    hops: list[HopPublic] = []
    flow_based_approximation: bool | None = None
    flow_based_regions: list[str] = []
    capacity_source: str | None = None  # e.g. "DE-LU->CH:A31"; static, or None where not recorded


class OpportunitiesPublic(BaseModel):
    model_config = _example({"status": "success", "count": 1, "opportunities": [OPPORTUNITY_EXAMPLE]})
    status: Literal["success"]
    count: int
    opportunities: list[OpportunityPublic]


class OpportunityHistoryPublic(BaseModel):
    model_config = _example({"count": 1, "limit": 100, "offset": 0, "data": [OPPORTUNITY_EXAMPLE]})
    count: int
    limit: int
    offset: int
    data: list[OpportunityPublic]


class SpreadPublic(BaseModel):
    model_config = _example(SPREAD_EXAMPLE)
    rule: str
    pair: list[str]
    market_pair: str
    label: str
    market: str
    delivery_start: UtcTime | None
    delivery_end: UtcTime | None
    buy_zone: str | None
    sell_zone: str | None
    buy_price: float | None
    sell_price: float | None
    spread: float | None
    net_eur_mwh: float | None
    cost_eur_mwh: float | None
    loss_factor: float | None
    profit_eur: float | None
    path: list[str]
    capacity_mw: float | None
    coupled: bool | None
    is_opportunity: bool
    strategy: str | None
    reason: str | None
    value_eur: float | None = None
    congestion_value_eur: float | None = None
    capture: Literal["congestion_income", "explicit_capacity", "none"] | None = None
    capturable: bool | None = None
    weakest_hop: list[str] | None = None
    hops: list[HopPublic] = []
    flow_based_approximation: bool | None = None
    flow_based_regions: list[str] = []


class SpreadsPublic(BaseModel):
    model_config = _example({"count": 1, "rules": ["proof-of-concept"], "data": [SPREAD_EXAMPLE]})
    count: int
    rules: list[str]
    data: list[SpreadPublic]


class ZonePublic(BaseModel):
    model_config = _example(
        {
            "code": "DE-LU",
            "eic": "10Y1001A1001A82H",
            "name": "Germany-Luxembourg",
            "timezone": "Europe/Berlin",
        }
    )
    code: str
    eic: str
    name: str
    timezone: str


class ZonesPublic(BaseModel):
    model_config = _example(
        {
            "count": 1,
            "data": [{"code": "FR", "eic": "10YFR-RTE------C", "name": "France", "timezone": "Europe/Paris"}],
        }
    )
    count: int
    data: list[ZonePublic]


BORDER_EXAMPLE: dict[str, Any] = {
    "zones": ["DE-LU", "FR"],
    "technology": "AC",
    "capacity_mw": 5400.0,
    "loss_factor": 0.0,
    "allocation": "implicit",
    "transmission_cost_eur_mwh": 0.0,
    "capacity_price_eur_mwh": 0.0,
    "name": "",
    "capture": "congestion_income",
    "long_term_right": "FTR",
    "flow_based": "Core",
}


class BorderPublic(BaseModel):
    model_config = _example(BORDER_EXAMPLE)
    zones: list[str]
    technology: str
    capacity_mw: float
    loss_factor: float
    allocation: str
    transmission_cost_eur_mwh: float
    capacity_price_eur_mwh: float
    name: str
    capture: Literal["congestion_income", "explicit_capacity", "none"] | None = None
    long_term_right: Literal["PTR", "FTR"] | None = None
    flow_based: str | None = None


class BordersPublic(BaseModel):
    model_config = _example({"count": 1, "data": [BORDER_EXAMPLE]})
    count: int
    data: list[BorderPublic]


class HealthPublic(BaseModel):
    model_config = _example(
        {"status": "healthy", "timestamp": "2026-01-15T10:30:00Z", "checks": {"nats": True, "database": True}}
    )
    status: Literal["healthy", "degraded"]
    timestamp: UtcTime
    checks: dict[str, bool]
