"""Response schemas of the long-range history (database aggregates) and of the published capacities."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from inthegrid.gateway.rest.schemas import UtcTime


def _example(value: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [value]})


BUCKET_EXAMPLE: dict[str, Any] = {
    "zone": "DE-LU",
    "bucket_start": "2026-01-15T00:00:00Z",
    "bucket_end": "2026-01-16T00:00:00Z",
    "avg_price": 82.1234,
    "min_price": 41.5,
    "max_price": 120.0,
    "periods": 96,
}
BORDER_DAY_EXAMPLE: dict[str, Any] = {
    "day": "2026-01-15T00:00:00Z",
    "pair": ["DE-LU", "FR"],
    "avg_price_a": 82.1234,
    "avg_price_b": 90.5,
    "avg_price_spread": 8.3766,
    "valued_periods": 96,
    "avg_spread": 9.1,
    "max_spread": 31.2,
    "max_net": 28.7,
    "profit_eur": None,
    "congestion_value_eur": 18840.0,
}
STORED_PRICE_EXAMPLE: dict[str, Any] = {
    "zone": "DE-LU",
    "delivery_start": "2026-01-15T23:45:00Z",
    "delivery_end": "2026-01-16T00:00:00Z",
    "price": 75.5,
    "source": "entsoe",
}
CAPACITY_EXAMPLE: dict[str, Any] = {
    "border": "FR->ES",
    "source": "FR",
    "target": "ES",
    "kind": "A61",
    "mw": 2800.0,
    "delivery_start": "2026-01-15T10:00:00Z",
    "delivery_end": "2026-01-15T11:00:00Z",
    "origin": "entsoe",
    "contract": "A01",
    "static_capacity_mw": 3300.0,
}


class PriceBucketPublic(BaseModel):
    """A zone's prices over one UTC hour or day whose start is in [from, to)."""

    model_config = _example(BUCKET_EXAMPLE)
    zone: str
    bucket_start: UtcTime
    bucket_end: UtcTime
    avg_price: float | None
    min_price: float | None
    max_price: float | None
    periods: int


class PriceBucketsPublic(BaseModel):
    model_config = _example(
        {"status": "success", "market": "DE-LU", "bucket": "day", "count": 1, "buckets": [BUCKET_EXAMPLE]}
    )
    status: Literal["success"]
    market: str
    bucket: Literal["hour", "day"]
    count: int
    buckets: list[PriceBucketPublic]


class BorderDayPublic(BaseModel):
    """One UTC day of a zone pair: both zones' mean prices and their spread (b - a of the daily
    means); the valued fields come from stored opportunities (0 / null on days without any)."""

    model_config = _example(BORDER_DAY_EXAMPLE)
    day: UtcTime
    pair: list[str]
    avg_price_a: float | None
    avg_price_b: float | None
    avg_price_spread: float | None
    valued_periods: int
    avg_spread: float | None
    max_spread: float | None
    max_net: float | None
    profit_eur: float | None
    congestion_value_eur: float | None


class BorderDaysPublic(BaseModel):
    model_config = _example(
        {"status": "success", "pair": ["DE-LU", "FR"], "count": 1, "days": [BORDER_DAY_EXAMPLE]}
    )
    status: Literal["success"]
    pair: list[str]
    count: int
    days: list[BorderDayPublic]


class StoredPricePublic(BaseModel):
    """The newest stored delivery period of a zone."""

    model_config = _example(STORED_PRICE_EXAMPLE)
    zone: str
    delivery_start: UtcTime
    delivery_end: UtcTime
    price: float | None
    source: str


class StoredPricesPublic(BaseModel):
    model_config = _example({"status": "success", "count": 1, "prices": [STORED_PRICE_EXAMPLE]})
    status: Literal["success"]
    count: int
    prices: list[StoredPricePublic]


class CapacityPublic(BaseModel):
    """Per border direction and kind, the published figure with the latest delivery start."""

    model_config = _example(CAPACITY_EXAMPLE)
    border: str
    source: str
    target: str
    kind: str
    mw: float
    delivery_start: UtcTime
    delivery_end: UtcTime
    origin: str
    contract: str | None
    static_capacity_mw: float | None


class CapacitiesPublic(BaseModel):
    model_config = _example({"count": 1, "data": [CAPACITY_EXAMPLE]})
    count: int
    data: list[CapacityPublic]
