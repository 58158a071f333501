"""Reference data: bidding zones and interconnectors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from inthegrid.domain.grid import DEFAULT_GRID
from inthegrid.domain.zones import ZONES
from inthegrid.gateway.rest.deps import Services, dump, json_response
from inthegrid.gateway.rest.history_schemas import CapacitiesPublic, CapacityPublic
from inthegrid.gateway.rest.schemas import BordersPublic, ZonesPublic
from inthegrid.gateway.rest.shaping import shaped
from inthegrid.gateway.rest.views import border_item, iso_z, zone_item

router = APIRouter(prefix="/api", tags=["reference"])

_ZONES = dump({"count": len(ZONES), "data": [zone_item(z) for z in ZONES.values()]})
_BORDERS_DATA = [border_item(b) for b in DEFAULT_GRID.borders]
_BORDERS = dump({"count": len(_BORDERS_DATA), "data": _BORDERS_DATA})


@router.get("/zones", response_model=ZonesPublic, summary="Bidding zones")
async def zones() -> Response:
    """Bidding zones with their EIC codes and time zones."""
    return json_response(_ZONES)


@router.get("/borders", response_model=BordersPublic, summary="Interconnectors of the default grid")
async def borders() -> Response:
    """Interconnectors of the built-in grid, with how each one's day-ahead spread is captured today
    (docs/economics.md)."""
    return json_response(_BORDERS)


@router.get(
    "/borders/capacity",
    response_model=CapacitiesPublic,
    summary="Latest published capacity, exchange and flow per border direction",
    description="Per border direction and kind (A61 forecast capacity, A31 offered, auction_offered/"
    "auction_allocated from JAO, A09 scheduled exchange, A11 physical flow): the figure with the latest "
    "delivery start received on the bus, with the static indicative capacity beside it. Empty until "
    "capacities are published (subject inthegrid.capacities.>).",
)
async def border_capacities(services: Services) -> Response:
    data: list[dict[str, Any]] = []
    for q in services.live.capacities.latest():
        border = DEFAULT_GRID.border(q.source, q.target)
        data.append(
            shaped(
                CapacityPublic,
                {
                    "border": q.direction,
                    "source": q.source,
                    "target": q.target,
                    "kind": q.kind.value,
                    "mw": q.mw,
                    "delivery_start": iso_z(q.start),
                    "delivery_end": iso_z(q.end),
                    "origin": q.origin,
                    "contract": q.contract or None,
                    "static_capacity_mw": border.capacity_mw if border is not None else None,
                },
            )
        )
    return json_response({"count": len(data), "data": data})
