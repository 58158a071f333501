"""Bus messages: JSON encodings of prices and opportunity events, and strict decoders.

Decoders turn any byte string into a domain object or a DecodeError that says what is wrong;
nothing else escapes them (a property test holds them to that).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from inthegrid.domain.capture import capture_fields, capture_of
from inthegrid.domain.economics import PairValue
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.plausibility import DEFAULT_WINDOW, TimeWindow, check_event, check_price
from inthegrid.domain.prices import DEFAULT_LIMITS, Market, Price, PriceLimits, Resolution, as_utc, make_price
from inthegrid.domain.utc_text import iso_z
from inthegrid.domain.zones import pair_key
from inthegrid.errors import DecodeError, InTheGridError

MAX_MESSAGE_BYTES = 64 * 1024
SCHEMA_PRICE = "inthegrid.price.v1"
SCHEMA_OPPORTUNITY = "inthegrid.opportunity.v1"


# Exact-spelling lookups before the lenient parsers: the hot path of every consumer (a miss falls
# back to make_price's parsing and its error messages).
_MARKETS = {m.value: m for m in Market}
_RESOLUTIONS = {r.iso: r for r in Resolution}


def format_time(moment: datetime) -> str:
    """A UTC time as the bus writes it (``2026-01-01T00:00:00Z``)."""
    return iso_z(moment)


def encode_price(price: Price) -> bytes:
    return orjson.dumps(
        {
            "schema": SCHEMA_PRICE,
            "zone": price.zone,
            "market": price.market.value,
            "delivery_start": format_time(price.delivery_start),
            "resolution": price.resolution.iso,
            "price_eur_mwh": price.eur_mwh,
            "source": price.source,
            "published_at": format_time(price.published_at),
        }
    )


def _load(data: bytes, schema: str) -> dict[str, Any]:
    doc = load_object(data)
    if doc.get("schema") != schema:
        raise DecodeError(f"message schema is {doc.get('schema')!r}, expected {schema!r}")
    return doc


def load_object(data: bytes) -> dict[str, Any]:
    """A message's JSON object, or DecodeError (not bytes, too large, not JSON, not an object)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"message is {type(data).__name__}, not bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"message is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError(f"message is a JSON {type(doc).__name__}, not an object")
    return doc


def _field(doc: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in doc:
        raise DecodeError(f"field {name!r} is missing")
    value = doc[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise DecodeError(f"field {name!r} has type {type(value).__name__}")
    return value


def decode_price(
    data: bytes,
    limits: PriceLimits = DEFAULT_LIMITS,
    window: TimeWindow = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> Price:
    """A price from a message; refused (DecodeError) when malformed, out of limits or implausible in
    time (``window`` relative to ``now``, default the wall clock)."""
    doc = _load(data, SCHEMA_PRICE)
    try:
        # Fields are read in the order a person reads a price, so the first problem reported is
        # the most telling one (an unknown zone before a missing resolution).
        zone: str = _field(doc, "zone", str)
        start: str = _field(doc, "delivery_start", str)
        value: float = _field(doc, "price_eur_mwh", (int, float))
        resolution: str = _field(doc, "resolution", str)
        market: str = _field(doc, "market", str)
        source: str = _field(doc, "source", str)
        header = {"zone": zone, "market": market, "resolution": resolution, "source": source}
        price = make_price_fast(header, start, value, _field(doc, "published_at", str), limits)
        check_price(window, price, now or datetime.now(UTC))
        return price
    except DecodeError:
        raise
    except InTheGridError as exc:
        raise DecodeError(str(exc)) from None


def make_price_fast(
    header: dict[str, str], start: str, value: float, published_at: str, limits: PriceLimits
) -> Price:
    """make_price for bus fields (``header``: zone, market, resolution, source), with the exact
    spellings looked up first."""
    resolution, market = header["resolution"], header["market"]
    return make_price(
        header["zone"],
        start,
        value,
        resolution=_RESOLUTIONS.get(resolution, resolution),
        market=_MARKETS.get(market, market),
        source=header["source"],
        published_at=published_at,
        limits=limits,
    )


def encode_event(event: OpportunityEvent) -> bytes:
    return orjson.dumps(event_document(event))


def event_document(event: OpportunityEvent) -> dict[str, Any]:
    """The fields of a v1 opportunity message (the v2 batch carries the same fields per item)."""
    item = event_item(event)
    return {
        "schema": SCHEMA_OPPORTUNITY,
        "kind": item.pop("kind"),
        "id": event.opportunity_id,
        "rule": event.rule,
        "market": event.market.value,
        "pair": list(event.pair),
        **item,
    }


def event_item(event: OpportunityEvent) -> dict[str, Any]:
    """An event's fields in a v2 batch item: ``event_document`` less what the batch header says once
    (schema, rule, market, pair) and the opportunity id (derived from those and the delivery start)."""
    return {
        "kind": event.kind.value,
        "delivery_start": format_time(event.delivery_start),
        "resolution": event.resolution.iso,
        "revision": event.revision,
        "detected_at": format_time(event.detected_at),
        "value": value_document(event.value),
    }


def value_document(v: PairValue | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {
        "buy_zone": v.buy_zone,
        "sell_zone": v.sell_zone,
        "buy_price": v.buy_price,
        "sell_price": v.sell_price,
        "net_eur_mwh": v.net_eur_mwh,
        "cost_eur_mwh": v.cost_eur_mwh,
        "loss_factor": v.loss_factor,
        "path": list(v.path),
        "capacity_mw": v.capacity_mw,
        "capacity_source": v.capacity_source,
        "period_hours": v.period_hours,
        "coupled": v.coupled,
        # Derived from the path and the date (decoders recompute them); sent for consumers.
        "value_eur": v.value_eur,
        "profit_eur": v.profit_eur,
        "congestion_value_eur": v.congestion_value_eur,
        **_capture_fields(v.capture),
    }


# A path's capture fields are the same for every period of its era: built once, only ever read (the
# documents above go straight to orjson).
_capture_fields = lru_cache(maxsize=1024)(capture_fields)


def _market(text: str) -> Market:
    return _MARKETS.get(text) or Market.parse(text)


def _resolution(text: str) -> Resolution:
    return _RESOLUTIONS.get(text) or Resolution.parse(text)


def decode_event(
    data: bytes, window: TimeWindow = DEFAULT_WINDOW, now: datetime | None = None
) -> OpportunityEvent:
    return event_from_document(_load(data, SCHEMA_OPPORTUNITY), window, now)


def event_from_document(
    doc: dict[str, Any], window: TimeWindow = DEFAULT_WINDOW, now: datetime | None = None
) -> OpportunityEvent:
    """An opportunity event from a decoded JSON object with the v1 fields; DecodeError when malformed
    or implausible in time."""
    try:
        pair_raw = _field(doc, "pair", list)
        if len(pair_raw) != 2 or not all(isinstance(z, str) for z in pair_raw):
            raise DecodeError("field 'pair' must hold two zone codes")
        pair = pair_key(pair_raw[0], pair_raw[1])
        revision = _field(doc, "revision", int)
        if revision < 1:
            raise DecodeError("field 'revision' must be >= 1")
        value = None
        delivery_start = as_utc(_field(doc, "delivery_start", str))
        raw = doc.get("value")
        if raw is not None:
            if not isinstance(raw, dict):
                raise DecodeError("field 'value' must be an object or null")
            path = tuple(_field(raw, "path", list))
            value = PairValue(
                pair=pair,
                buy_zone=_field(raw, "buy_zone", str),
                sell_zone=_field(raw, "sell_zone", str),
                buy_price=float(_field(raw, "buy_price", (int, float))),
                sell_price=float(_field(raw, "sell_price", (int, float))),
                net_eur_mwh=float(_field(raw, "net_eur_mwh", (int, float))),
                cost_eur_mwh=float(_field(raw, "cost_eur_mwh", (int, float))),
                loss_factor=float(_field(raw, "loss_factor", (int, float))),
                path=tuple(str(z) for z in path),
                capacity_mw=float(_field(raw, "capacity_mw", (int, float))),
                period_hours=float(_field(raw, "period_hours", (int, float))),
                # Facts, not the sender's word: the label follows from the path and the date.
                capture=capture_of(tuple(str(z) for z in path), delivery_start),
                capacity_source=str(raw.get("capacity_source") or "static"),
            )
        event = OpportunityEvent(
            kind=EventKind(_field(doc, "kind", str)),
            rule=_field(doc, "rule", str),
            market=_market(_field(doc, "market", str)),
            pair=pair,
            delivery_start=delivery_start,
            resolution=_resolution(_field(doc, "resolution", str)),
            revision=revision,
            value=value,
            detected_at=as_utc(_field(doc, "detected_at", str)),
        )
        check_event(window, event, now or datetime.now(UTC))
        return event
    except DecodeError:
        raise
    except (InTheGridError, ValueError, TypeError) as exc:
        raise DecodeError(f"invalid opportunity event: {exc}") from None
