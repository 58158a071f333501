"""Health (open, the proof of concept's shape plus checks) and Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from inthegrid.gateway.rest.deps import Services, json_response
from inthegrid.gateway.rest.schemas import HealthPublic
from inthegrid.gateway.rest.views import iso_z

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthPublic, summary="Health and dependency checks")
async def health(services: Services) -> Response:
    """Always 200 while the process serves (liveness); ``status`` is "degraded" when NATS or the
    database is unreachable, and ``checks`` says which."""
    checks = {"nats": services.nats_ok, "database": await services.db.ping()}
    return json_response(
        {
            "status": "healthy" if all(checks.values()) else "degraded",
            "timestamp": iso_z(datetime.now(UTC)),
            "checks": checks,
        }
    )


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
