"""Opportunity event batches on the bus (contract v2): several events of one rule and pair per message.

The ``schema`` field is the contract's version: ``inthegrid.opportunity.v1`` is one event per message
(``codec.encode_event``), ``inthegrid.opportunities.v2`` a batch. Decoders take both, so during a
rolling upgrade an old calculator's messages are still consumed.

A batch carries what its events share once (rule, market, pair: what the subject
``inthegrid.opportunities.<rule>.<pair>`` names, so subject filters and permissions hold for every
event in it) and one item per event with the v1 fields (kind, delivery period, revision, value ...),
in the order the calculator produced them. A message holds at most MAX_BATCH_EVENTS events and
MAX_MESSAGE_BYTES bytes; the grouping below splits by both.

Each item is validated like a v1 message: a malformed or implausible item is rejected alone (with its
index, reason and a one-item batch holding it, for the dead-letter stream), the others are delivered.
A message that is not a batch at all (not JSON, unknown schema, no items, a bad header) is refused whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from inthegrid.domain.batch_codec import RejectedItem
from inthegrid.domain.capture import capture_of
from inthegrid.domain.codec import (
    _MARKETS,
    _RESOLUTIONS,
    MAX_MESSAGE_BYTES,
    SCHEMA_OPPORTUNITY,
    event_from_document,
    event_item,
    load_object,
)
from inthegrid.domain.economics import PairValue
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.plausibility import DEFAULT_WINDOW, TimeWindow
from inthegrid.domain.prices import Market, as_utc
from inthegrid.domain.zones import pair_key
from inthegrid.errors import DecodeError, InTheGridError, ValidationError

SCHEMA_OPPORTUNITY_BATCH = "inthegrid.opportunities.v2"
# At most this many events per message: an evaluation of a day-ahead result opens up to 96 periods of
# a pair; a full event item is about 600 bytes, so 100 of them may exceed MAX_MESSAGE_BYTES (then the
# byte bound splits the batch).
MAX_BATCH_EVENTS = 100

EventBatchKey = tuple[str, str, tuple[str, str]]


@dataclass(frozen=True, slots=True)
class DecodedEvents:
    """What one message yields: the good events with their item index, and the rejected items."""

    events: list[tuple[int, OpportunityEvent]]
    rejected: list[RejectedItem]


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events of one batch key and the message that carries them."""

    events: list[OpportunityEvent]
    payload: bytes


def event_batch_key(event: OpportunityEvent) -> EventBatchKey:
    return (event.rule, event.market.value, event.pair)


def _header(key: EventBatchKey) -> dict[str, Any]:
    rule, market, pair = key
    return {"schema": SCHEMA_OPPORTUNITY_BATCH, "rule": rule, "market": market, "pair": list(pair)}


def _item(event: OpportunityEvent) -> bytes:
    return orjson.dumps(event_item(event))


def _assemble(key: EventBatchKey, items: Sequence[bytes]) -> bytes:
    # orjson writes the header with an empty list last ("...,\"items\":[]}"); the encoded items go
    # between its brackets, so each item is encoded once, also for measuring the batch's size.
    empty = orjson.dumps({**_header(key), "items": []})
    return empty[:-2] + b",".join(items) + b"]}"


def group_event_batches(
    events: Iterable[OpportunityEvent],
    max_items: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> list[EventBatch]:
    """The events split into batches of one ``event_batch_key`` each, at most ``max_items`` events and
    ``max_bytes`` bytes long, in first-seen order of the keys and production order within each."""
    groups: dict[EventBatchKey, list[OpportunityEvent]] = {}
    for event in events:
        groups.setdefault(event_batch_key(event), []).append(event)
    batches: list[EventBatch] = []
    for key, group in groups.items():
        overhead = len(_assemble(key, []))
        chunk: list[OpportunityEvent] = []
        items: list[bytes] = []
        size = overhead
        for event in group:
            item = _item(event)
            if overhead + len(item) > max_bytes:
                raise ValueError(f"event {event.message_id} alone exceeds {max_bytes} bytes")
            if chunk and (len(chunk) == max_items or size + 1 + len(item) > max_bytes):
                batches.append(EventBatch(chunk, _assemble(key, items)))
                chunk, items, size = [], [], overhead
            size += len(item) + (1 if chunk else 0)
            chunk.append(event)
            items.append(item)
        if chunk:
            batches.append(EventBatch(chunk, _assemble(key, items)))
    return batches


def event_batch_message_id(events: Sequence[OpportunityEvent]) -> str:
    """Deterministic: the same events in the same order give the same id, so a re-published batch is
    dropped by JetStream. An event's identity is its message id (opportunity and revision), as in v1:
    a re-derived revision with another detection time is the same event."""
    digest = hashlib.sha256("\n".join(e.message_id for e in events).encode()).hexdigest()
    return f"events:{digest[:40]}"


def encode_event_batch(events: Sequence[OpportunityEvent]) -> bytes:
    """One message for ``events`` (one batch key, within both bounds), else ValueError."""
    if not events or len(events) > MAX_BATCH_EVENTS:
        raise ValueError(f"an event batch holds 1 to {MAX_BATCH_EVENTS} events, not {len(events)}")
    key = event_batch_key(events[0])
    if any(event_batch_key(e) != key for e in events):
        raise ValueError("an event batch holds events of one rule, market and pair")
    payload = _assemble(key, [_item(e) for e in events])
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ValueError(f"an event batch of {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return payload


def _checked_header(doc: dict[str, Any]) -> dict[str, Any]:
    """The shared fields, checked once: a bad one refuses the whole message."""
    rule, market, pair = doc.get("rule"), doc.get("market"), doc.get("pair")
    if not isinstance(rule, str) or not rule:
        raise DecodeError("batch field 'rule' is missing or not a non-empty string")
    if not isinstance(market, str):
        raise DecodeError("batch field 'market' is missing or not a string")
    if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(z, str) for z in pair):
        raise DecodeError("batch field 'pair' must hold two zone codes")
    try:
        Market.parse(market)
        pair_key(pair[0], pair[1])
    except (InTheGridError, ValueError) as exc:
        raise DecodeError(f"invalid event batch header: {exc}") from None
    return {"rule": rule, "market": market, "pair": pair}


@dataclass(frozen=True, slots=True)
class _Shared:
    rule: str
    market: Market | None  # None when spelled other than exactly (the full decoder parses it)
    pair: tuple[str, str]


_KINDS = {k.value: k for k in EventKind}
_VALUE_NUMBERS = (
    "buy_price",
    "sell_price",
    "net_eur_mwh",
    "cost_eur_mwh",
    "loss_factor",
    "capacity_mw",
    "period_hours",
)


def _plain_item(
    item: dict[str, Any], shared: _Shared, window: TimeWindow, now: datetime
) -> OpportunityEvent | None:
    """The event of an item as a calculator writes it, without ``event_from_document``'s per-field
    checks and error messages (most of the recorder's decoding time); None for anything else, which
    the full decoder then takes. Accepts only what the full decoder accepts, to the same event: a unit
    test holds the two to that."""
    kind_text, resolution_text = item.get("kind"), item.get("resolution")
    kind = _KINDS.get(kind_text) if type(kind_text) is str else None
    resolution = _RESOLUTIONS.get(resolution_text) if type(resolution_text) is str else None
    revision = item.get("revision")
    start_text, detected_text = item.get("delivery_start"), item.get("detected_at")
    if (
        kind is None
        or resolution is None
        or shared.market is None
        or type(revision) is not int
        or revision < 1
        or type(start_text) is not str
        or type(detected_text) is not str
    ):
        return None
    try:
        start, detected = as_utc(start_text), as_utc(detected_text)
        raw = item.get("value")
        value = None
        if raw is not None:
            if type(raw) is not dict:
                return None
            numbers = [raw.get(name) for name in _VALUE_NUMBERS]
            path, buy, sell = raw.get("path"), raw.get("buy_zone"), raw.get("sell_zone")
            source = raw.get("capacity_source")
            if (
                not all(type(n) is float or type(n) is int for n in numbers)
                or type(path) is not list
                or not all(type(z) is str for z in path)
                or type(buy) is not str
                or type(sell) is not str
                or not (source is None or type(source) is str)
            ):
                return None
            hops = tuple(path)
            buy_price, sell_price, net, cost, loss, capacity, hours = map(float, numbers)  # type: ignore[arg-type]
            value = PairValue(
                pair=shared.pair,
                buy_zone=buy,
                sell_zone=sell,
                buy_price=buy_price,
                sell_price=sell_price,
                net_eur_mwh=net,
                cost_eur_mwh=cost,
                loss_factor=loss,
                path=hops,
                capacity_mw=capacity,
                period_hours=hours,
                capture=capture_of(hops, start),
                capacity_source=source or "static",
            )
    except (InTheGridError, ValueError, TypeError):
        return None
    if not window.fits(start, detected, now):
        return None
    return OpportunityEvent(
        kind, shared.rule, shared.market, shared.pair, start, resolution, revision, value, detected
    )


def decode_events(
    data: bytes, window: TimeWindow = DEFAULT_WINDOW, now: datetime | None = None
) -> DecodedEvents:
    """The events of a v2 batch or of a v1 single-event message.

    Raises DecodeError only for a message refused as a whole; bad items of a batch are returned in
    ``rejected``, each with its reason.
    """
    doc = load_object(data)
    moment = now or datetime.now(UTC)
    schema = doc.get("schema")
    if schema == SCHEMA_OPPORTUNITY:
        return DecodedEvents([(0, event_from_document(doc, window, moment))], [])
    if schema != SCHEMA_OPPORTUNITY_BATCH:
        raise DecodeError(
            f"message schema is {schema!r}, expected {SCHEMA_OPPORTUNITY_BATCH!r} or {SCHEMA_OPPORTUNITY!r}"
        )
    header = _checked_header(doc)
    items = doc.get("items")
    if not isinstance(items, list) or not items:
        raise DecodeError("batch field 'items' must be a non-empty list")
    if len(items) > MAX_BATCH_EVENTS:
        raise DecodeError(f"batch of {len(items)} events exceeds {MAX_BATCH_EVENTS}")
    good: list[tuple[int, OpportunityEvent]] = []
    rejected: list[RejectedItem] = []
    shared = _Shared(header["rule"], _MARKETS.get(header["market"]), pair_key(*header["pair"]))
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValidationError(f"an item must be an object, not {type(item).__name__}")
            event = _plain_item(item, shared, window, moment)
            if event is None:  # anything unusual: the full decoder accepts it or says what is wrong
                event = event_from_document({**item, **header}, window, moment)
            good.append((index, event))
        except InTheGridError as exc:
            alone = orjson.dumps({"schema": SCHEMA_OPPORTUNITY_BATCH, **header, "items": [item]})
            rejected.append(RejectedItem(index, str(exc), alone))
    return DecodedEvents(good, rejected)
