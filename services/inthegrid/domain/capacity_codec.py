"""Border quantities on the bus: JSON documents with a schema name, decoded strictly."""

from __future__ import annotations

from typing import Any

import orjson

from inthegrid.domain.capacity import BorderQuantity, CapacityKind
from inthegrid.domain.prices import as_utc
from inthegrid.domain.zones import zone_code
from inthegrid.errors import DecodeError, InTheGridError

SCHEMA_CAPACITY = "inthegrid.capacity.v1"


def quantity_message_id(q: BorderQuantity) -> str:
    """The same figure from the same origin is one message; a changed figure is a new one."""
    return (
        f"capacity:{q.origin}:{q.kind.value}:{q.contract}:{q.source}>{q.target}:"
        f"{q.start:%Y%m%dT%H%MZ}:{q.end:%Y%m%dT%H%MZ}:{q.mw:.1f}"
    )


def encode_quantity(q: BorderQuantity) -> bytes:
    return orjson.dumps(
        {
            "schema": SCHEMA_CAPACITY,
            "source": q.source,
            "target": q.target,
            "start": q.start.isoformat().replace("+00:00", "Z"),
            "end": q.end.isoformat().replace("+00:00", "Z"),
            "mw": q.mw,
            "kind": q.kind.value,
            "origin": q.origin,
            "contract": q.contract,
        }
    )


def decode_quantity(data: bytes) -> BorderQuantity:
    try:
        doc: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"capacity message is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_CAPACITY:
        raise DecodeError(f"capacity message lacks schema {SCHEMA_CAPACITY!r}")
    try:
        mw = doc["mw"]
        if isinstance(mw, bool) or not isinstance(mw, int | float):
            raise DecodeError("field 'mw' must be a number")
        return BorderQuantity(
            zone_code(str(doc["source"])),
            zone_code(str(doc["target"])),
            as_utc(str(doc["start"])),
            as_utc(str(doc["end"])),
            float(mw),
            CapacityKind(str(doc["kind"])),
            str(doc.get("origin") or "unknown")[:64],
            str(doc.get("contract") or "")[:16],
        )
    except DecodeError:
        raise
    except KeyError as exc:
        raise DecodeError(f"capacity message lacks field {exc}") from None
    except (InTheGridError, ValueError, TypeError) as exc:
        raise DecodeError(f"invalid capacity message: {exc}") from None
