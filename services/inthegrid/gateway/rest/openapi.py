"""The OpenAPI document's conventions: explicit operationIds, the API-key security scheme, and the
401 and 429 answers of the protected operations (what middleware/security.py does, declared).

Clients generated from the document (and docs/api-contract.md, generated from it) rely on these:
an operationId is part of the contract, so each is written here once and never derived from a
handler's name or path; a route without one fails at start-up.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from inthegrid.gateway.middleware.security import PROTECTED_PREFIX
from inthegrid.gateway.rest.schemas import ErrorPublic

API_DESCRIPTION = """\
The proof of concept's endpoints (`/health`, `/api/prices/latest`, `/api/spreads/opportunities`,
`/api/prices/history/{market}`) keep their documented shape: extra fields are additions, never renames.

Every valuation (opportunity items, spreads rows, history rows, stream events) also carries, for the
same item: `value_eur`, `congestion_value_eur`, `capture` (`explicit_capacity` | `congestion_income` |
`none`), `capturable`, `weakest_hop`, `hops`, `flow_based_approximation`, `flow_based_regions`.
`profit_eur` is null unless `capturable`; `coupled` is true when a hop is allocated by market coupling
(docs/economics.md).

Invalid query parameters answer 422 with `detail`. All times are ISO-8601 UTC with a Z suffix.
With API keys configured (INTHEGRID_API_KEYS), every `/api/` request presents one in `X-API-Key` or
as a Bearer token (401 otherwise), and each client is rate limited (429 with `Retry-After`).
`/metrics` serves Prometheus, `/docs` this document, `/dashboard` the Gradio dashboard when installed.
"""

OPERATION_IDS: dict[tuple[str, str], str] = {
    ("GET", "/health"): "getHealth",
    ("GET", "/api/zones"): "listZones",
    ("GET", "/api/borders"): "listBorders",
    ("GET", "/api/borders/capacity"): "listBorderCapacities",
    ("GET", "/api/prices/latest"): "listLatestPrices",
    ("GET", "/api/prices/history/{market}"): "listPriceHistory",
    ("GET", "/api/spreads/latest"): "listLatestSpreads",
    ("GET", "/api/spreads/opportunities"): "listOpenOpportunities",
    ("GET", "/api/opportunities/history"): "listOpportunityHistory",
    ("GET", "/api/stream/prices"): "streamPrices",
    ("GET", "/api/stream/opportunities"): "streamOpportunities",
    ("GET", "/api/history/prices/{market}"): "listPriceAggregates",
    ("GET", "/api/history/borders"): "listBorderDays",
    ("GET", "/api/history/latest"): "listLatestStoredPrices",
    ("GET", "/api/analytics/divergence"): "getDivergence",
    ("GET", "/api/analytics/heatmap"): "getDivergenceHeatmap",
    ("GET", "/api/analytics/congestion"): "getCongestionValue",
    ("GET", "/api/analytics/negative-hours"): "getNegativeHours",
    ("GET", "/api/analytics/correlation"): "getCorrelation",
    ("GET", "/api/forecast/borders"): "listForecastBorders",
    ("GET", "/api/forecast/spreads"): "getSpreadForecast",
}

API_KEY_HEADER = "X-API-Key"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "An API key from INTHEGRID_API_KEYS (the chart sets keys by default). A gateway "
        "started without keys accepts requests without one.",
    },
    "BearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same API key as `Authorization: Bearer <key>`.",
    },
}
# Either scheme is enough (OpenAPI: alternatives are separate requirement objects).
SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}
PROTECTED_RESPONSES: dict[str, dict[str, Any]] = {
    "401": {
        "description": "API keys are configured and the request carries none, or an unknown one.",
        "headers": {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="inthegrid"'}
        },
        "content": _ERROR,
    },
    "429": {
        "description": "The client's rate limit is spent (INTHEGRID_RATE_LIMIT_PER_MINUTE).",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
        "content": _ERROR,
    },
}


def operation_id(route: APIRoute) -> str:
    """The route's operationId from OPERATION_IDS (FastAPI's generate_unique_id_function)."""
    if not route.include_in_schema:  # /metrics: not part of the document
        return route.name
    (method,) = (route.methods or set()) - {"HEAD"}
    try:
        return OPERATION_IDS[(method, route.path_format)]
    except KeyError:
        raise KeyError(f"no operationId for {method} {route.path_format}: add one to OPERATION_IDS") from None


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with the security scheme and protected answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # FastAPI's own document (it caches it in app.openapi_schema), then the declarations.
            declare_security(FastAPI.openapi(app))
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def declare_security(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    schemas.setdefault(
        "ErrorPublic", ErrorPublic.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(PROTECTED_PREFIX):
            continue
        for operation in operations.values():
            operation["security"] = SECURITY
            operation["responses"].update(PROTECTED_RESPONSES)
    return document
