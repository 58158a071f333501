"""Reference data: bidding zones and interconnectors."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from inthegrid.domain.grid import DEFAULT_GRID
from inthegrid.domain.zones import ZONES
from inthegrid.gateway.deps import dump, json_response
from inthegrid.gateway.schemas import BordersPublic, ZonesPublic
from inthegrid.gateway.views import border_item, zone_item

router = APIRouter(prefix="/api", tags=["reference"])

_ZONES = dump({"count": len(ZONES), "data": [zone_item(z) for z in ZONES.values()]})
_BORDERS_DATA = [border_item(b) for b in DEFAULT_GRID.borders]
_BORDERS = dump({"count": len(_BORDERS_DATA), "data": _BORDERS_DATA})


@router.get("/zones", response_model=ZonesPublic, summary="Bidding zones")
async def zones() -> Response:
    return json_response(_ZONES)


@router.get("/borders", response_model=BordersPublic, summary="Interconnectors of the default grid")
async def borders() -> Response:
    return json_response(_BORDERS)
